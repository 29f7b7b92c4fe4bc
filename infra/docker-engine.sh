#!/usr/bin/env bash
# Make sure a Docker engine answers. Leaves a running engine alone; otherwise installs
# Debian's docker.io when dockerd is missing and starts dockerd in the background
# (these machines have no systemd). Safe to run any number of times.
set -euo pipefail

log=${PRODPROVEN_DOCKERD_LOG:-/var/log/prodproven-dockerd.log}

if docker info >/dev/null 2>&1; then
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
    echo "prodproven: no Docker engine found; installing Debian's docker.io" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq docker.io >/dev/null
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
    echo "prodproven: starting dockerd (log: $log)" >&2
    # setsid: the engine must outlive the shell that started it.
    setsid dockerd >"$log" 2>&1 < /dev/null &
fi

for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
        exit 0
    fi
    sleep 1
done
echo "prodproven: dockerd did not answer within 60 s; see $log" >&2
tail -n 20 "$log" >&2 || true
exit 1
