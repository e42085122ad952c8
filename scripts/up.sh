#!/usr/bin/env bash
# The main job (placeholder until the runtime lands): build a busybox rootfs.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -c "from dockyard.busybox import make_rootfs; import tempfile; print(make_rootfs(tempfile.mkdtemp()))"
