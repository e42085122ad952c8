#!/usr/bin/env bash
# The main job (`make up`), on embedded defaults:
#  1. a busybox container straight through dockyard-runtime (runc's role);
#  2. busybox:latest made offline from Debian's busybox-static, if missing;
#  3. the engine daemon started in the background (if not already up) with the
#     Docker Engine API on /run/dockyard/dockyard.sock;
#  4. `dockyard run --rm busybox echo hello` through it.
# Idempotent: run it again and it reuses the image and the running daemon.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${DOCKYARD_ROOT:-/var/lib/dockyard}
RUN=${DOCKYARD_RUN:-/run/dockyard}
SOCK=$RUN/dockyard.sock

# 1. the runtime alone: a private bundle, removed whether it succeeds or not.
RUNTIME=.venv/bin/dockyard-runtime
DIR=$ROOT/up
RTROOT=$RUN/up-runtime
ID=dockyard-up-$$
cleanup() { "$RUNTIME" --root "$RTROOT" delete --force "$ID" >/dev/null 2>&1 || true; }
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
"$RUNTIME" --root "$RTROOT" run --bundle "$DIR" "$ID" </dev/null
rm -rf "$DIR"

# 2. busybox:latest, offline.
.venv/bin/python - "$ROOT" <<'PY'
import sys
from dockyard.images import ImageService, busybox_image
from dockyard.images.errors import ImageNotFoundError

svc = ImageService.open(sys.argv[1])
try:
    svc.resolve("busybox:latest")
except ImageNotFoundError:
    busybox_image(svc)
    print("made busybox:latest from Debian's busybox-static")
svc.close()
PY

# 3. the daemon.
ping() { curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }
if ! ping; then
  mkdir -p "$RUN"
  setsid .venv/bin/dockyard daemon --root "$ROOT" --run-root "$RUN" -H "unix://$SOCK" \
    >>"$RUN/daemon.log" 2>&1 </dev/null &
  for _ in $(seq 100); do ping && break; sleep 0.1; done
  ping || { echo "dockyard daemon did not start; see $RUN/daemon.log" >&2; exit 1; }
  echo "dockyard daemon running (log: $RUN/daemon.log)"
fi

# 4. a container through the Docker Engine API.
DOCKER_HOST="unix://$SOCK" .venv/bin/dockyard run --rm busybox echo hello
echo "try: DOCKER_HOST=unix://$SOCK docker run --rm busybox uname -a"
