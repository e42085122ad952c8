#!/usr/bin/env bash
# Installs what dockyard and its tests need on Debian 12, as root:
# Debian's packages (only those missing; apt-get update once if any are),
# then a venv built from the given Python with dockyard and its dev extras.
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}

apt_packages=(
  busybox-static      # the offline base image and the test rootfs
  runc crun           # reference runtimes for tests and benchmarks
  libseccomp2         # pyseccomp loads it with ctypes
  iptables nftables iproute2 kmod procps psmisc util-linux
  etcd-server etcd-client   # the cluster store's etcd backend
  skopeo              # a registry client nobody here wrote
  docker-registry     # a registry server nobody here wrote (its package tries to start a service; harmless without init)
  tmux                # interactive -it tests under a real terminal
  gcc libc6-dev       # builds --init's docker-init (static) on first use
  curl                # make up pings the daemon
  docker.io           # Docker's engine, for interop tests and benchmarks only; the tests start
                      # a private dockerd with --iptables=false --bridge=none (no firewall, no bridge)
  openssh-client      # ssh-agent, ssh-add, ssh-keygen: RUN --mount=type=ssh tests
  docker-compose      # Debian's Python docker-compose 1.29: interop tests drive dockyard's daemon with it
)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# etcd-server's package starts a system etcd where an init system runs; the
# tests start their own on free ports and never touch one they did not start.

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e ".[dev]"
