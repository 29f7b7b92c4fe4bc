#!/bin/sh
# Start the node's Docker Engine: the local socket, and the engine API on the node's address on
# the cluster network (plain TCP, no TLS: the local development cluster only; see
# docs/scaling.md for real clusters). Never on 0.0.0.0: the node's own bridges would then offer
# it to every container on them.
set -eu
addr=$(hostname -i | cut -d' ' -f1)
# The node container is not --privileged: make /sys and the cgroup hierarchies (cgroups v1)
# writable for the engine, which creates its containers' cgroups under the node's own.
mount -o remount,rw /sys
for hierarchy in /sys/fs/cgroup/*; do
    if mountpoint -q "$hierarchy"; then
        mount -o remount,bind,rw "$hierarchy"
    fi
done
# Mounts made inside containers (volumes of nested containers) must propagate.
mount --make-rshared /
# --tls=false: no TLS on purpose (development only); saying so spares the 15 s start delay.
exec dockerd --host unix:///var/run/docker.sock --host "tcp://$addr:2375" --tls=false "$@"
