#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine.
# - An engine that already answers (a developer laptop, Docker Desktop) is left alone.
# - Otherwise, as root on Debian/Ubuntu: install Debian's docker.io when dockerd is missing, start
#   dockerd in the background (machines without systemd, such as CI containers), wait for the socket.
set -euo pipefail

log=${DLSTACK_DOCKERD_LOG:-/var/log/labops-dlstack-dockerd.log}
wait_s=${DLSTACK_DOCKERD_WAIT:-90}

if docker info >/dev/null 2>&1; then
  echo "docker: engine answers, left as it is"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "docker: no engine answers and this is not root; start Docker yourself, then rerun" >&2
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "docker: dockerd is missing and this is not an apt-based machine; install Docker, then rerun" >&2
    exit 1
  fi
  echo "docker: installing Debian's docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    docker.io iptables ca-certificates >/dev/null
fi

if [ -S /var/run/docker.sock ] && ! pgrep -x dockerd >/dev/null; then
  rm -f /var/run/docker.sock /var/run/docker.pid  # stale, from an engine that is gone
fi

if ! pgrep -x dockerd >/dev/null; then
  echo "docker: starting dockerd in the background (log: $log)"
  mkdir -p "$(dirname "$log")"
  # setsid + nohup: the engine outlives this shell; there is no systemd to own it here.
  nohup setsid dockerd >"$log" 2>&1 </dev/null &
fi

for _ in $(seq "$wait_s"); do
  if docker info >/dev/null 2>&1; then
    echo "docker: engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
    exit 0
  fi
  sleep 1
done
echo "docker: dockerd did not answer within ${wait_s}s; last lines of $log:" >&2
tail -n 30 "$log" >&2 || true
exit 1
