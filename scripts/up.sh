#!/usr/bin/env bash
# The main job: a busybox container through dockyard-runtime, printing from inside it.
# Idempotent: a private bundle under /var/lib/dockyard/up, rebuilt each time; the
# container is removed whether it succeeds or not.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNTIME=.venv/bin/dockyard-runtime
DIR=/var/lib/dockyard/up
ROOT=/run/dockyard/up-runtime
ID=dockyard-up-$$

cleanup() { "$RUNTIME" --root "$ROOT" delete --force "$ID" >/dev/null 2>&1 || true; }
trap cleanup EXIT

rm -rf "$DIR"
mkdir -p "$DIR"
.venv/bin/python - "$DIR" <<'PY'
import sys
from dockyard.busybox import make_rootfs
from dockyard.runtime.spec import default_spec_dict, write_bundle

bundle = sys.argv[1]
make_rootfs(f"{bundle}/rootfs")
config = default_spec_dict(
    ["sh", "-c", 'echo "hello from $(hostname): I am pid $$, $(id)"; uname -sr'],
    terminal=False,
)
config["hostname"] = "dockyard-up"
write_bundle(bundle, config)
PY
"$RUNTIME" --root "$ROOT" run --bundle "$DIR" "$ID" </dev/null
