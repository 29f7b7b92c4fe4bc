#!/usr/bin/env bash
# A local Docker Swarm cluster for development and tests, on one machine: N Swarm nodes as
# privileged Docker-in-Docker containers and an image registry beside them, all on the bridge
# network pp-cluster-net. Built offline from the local base image (see infra/cluster/).
#
#   infra/cluster.sh up N     start (or complete) an N-node cluster; node 1 is the manager
#   infra/cluster.sh status   what runs, and the nodes as the manager sees them
#   infra/cluster.sh down     remove every container, volume and network of the cluster
#
# Settings (environment):
#   CLUSTER_NODE_MEMORY   memory limit of each node container (default 4g)
#   CLUSTER_BASE_IMAGE    Debian bookworm image the node and registry images build on
#                         (default prodproven/base:bookworm, made by `prodproven images build`)
#   PRODPROVEN_DATA_DIR   where the state file cluster.env is written (the manager's API URL,
#                         the registry's addresses; read by the tests)
#
# The nodes' engine APIs listen on plain TCP (port 2375, no TLS) on the cluster network: this is
# for a development machine only. docs/scaling.md says how a real cluster is run.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
recipes=$here/cluster
net=pp-cluster-net
registry=pp-cluster-registry
node_prefix=pp-cluster-node-
label=prodproven.cluster=dev
api_port=2375
node_memory=${CLUSTER_NODE_MEMORY:-4g}
base_image=${CLUSTER_BASE_IMAGE:-prodproven/base:bookworm}
data_dir=${PRODPROVEN_DATA_DIR:-$HOME/.local/share/prodproven}
state=$data_dir/cluster.env

die() {
    echo "cluster.sh: $*" >&2
    exit 1
}

say() {
    echo "cluster.sh: $*" >&2
}

usage() {
    sed -n '6,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# The tag of a recipe's image: a hash of its files and of the base image it builds on.
recipe_tag() {
    local recipe=$1 base_id
    base_id=$(docker image inspect --format '{{.Id}}' "$base_image")
    { echo "$base_id"; (cd "$recipe" && find . -type f | LC_ALL=C sort | xargs sha256sum); } \
        | sha256sum | cut -c1-12
}

# Build prodproven/swarm-<name>:<hash> from infra/cluster/<name> unless it exists; print its tag.
# The recipe's debs.txt packages are fetched here on the host; the build has no network.
build_image() {
    local name=$1 recipe=$recipes/$1 tag context started
    tag=prodproven/swarm-$name:$(recipe_tag "$recipe")
    if docker image inspect "$tag" >/dev/null 2>&1; then
        echo "$tag"
        return
    fi
    command -v apt-get >/dev/null || die "building $tag needs apt-get on the host (apt-get download of $recipe/debs.txt)"
    started=$(date +%s)
    context=$(mktemp -d)
    chmod 755 "$context" # apt-get download drops to the _apt user
    cp -r "$recipe"/. "$context"/
    mkdir -m 777 "$context/debs"
    # shellcheck disable=SC2046 # one package name per word
    # (a machine's package lists may be missing or stale: update them once, then try again)
    (cd "$context/debs" && { apt-get download -qq $(sed 's/#.*//' "$recipe/debs.txt") 2>/dev/null \
        || { apt-get update -qq && apt-get download -qq $(sed 's/#.*//' "$recipe/debs.txt"); }; }) >&2 \
        || { rm -rf "$context"; die "apt-get download of $recipe/debs.txt failed (see above)"; }
    if ! docker build -q --network none --build-arg "BASE_IMAGE=$base_image" -t "$tag" "$context" >&2; then
        rm -rf "$context"
        die "building $tag from $recipe failed (see above)"
    fi
    rm -rf "$context"
    say "built $tag in $(($(date +%s) - started)) s"
    echo "$tag"
}

# --cap-drop options for the capabilities the host engine itself lacks (dropped from the
# nodes' ALL).
cap_drops() {
    local bounding name missing=() names=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID
        SETUID SETPCAP LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK
        IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE
        SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP
        MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF
        CHECKPOINT_RESTORE)
    bounding=$((16#$(awk '/^CapBnd/ {print $2}' "/proc/$(pgrep -xo dockerd || echo self)/status")))
    for i in "${!names[@]}"; do
        if ((((bounding >> i) & 1) == 0)); then
            missing+=("${names[$i]}")
        fi
    done
    for name in "${missing[@]}"; do
        echo "--cap-drop=$name"
    done
}

running() {
    [ "$(docker inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = true ]
}

address_of() {
    docker inspect --format "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$1"
}

node_api() {
    echo "tcp://$(address_of "$1"):$api_port"
}

wait_engine() {
    local node=$1 url
    url=$(node_api "$node")
    for _ in $(seq 1 60); do
        if docker -H "$url" info >/dev/null 2>&1; then
            return
        fi
        sleep 1
    done
    docker logs --tail 20 "$node" >&2 || true
    die "the engine of $node did not answer on $url within 60 s (its log above)"
}

ensure_network() {
    if ! docker network inspect "$net" >/dev/null 2>&1; then
        docker network create --driver bridge --label "$label" "$net" >/dev/null
    fi
}

ensure_registry() {
    local image=$1
    if running "$registry"; then
        return
    fi
    docker rm -f "$registry" >/dev/null 2>&1 || true
    docker run -d --name "$registry" --label "$label" --network "$net" --network-alias registry \
        --publish 127.0.0.1::5000 --volume "$registry:/var/lib/registry" \
        --read-only --cap-drop ALL --security-opt no-new-privileges --memory 256m \
        --restart unless-stopped "$image" >/dev/null
}

ensure_node() {
    local name=$1 image=$2 drops
    if running "$name"; then
        return
    fi
    docker rm -f "$name" >/dev/null 2>&1 || true
    drops=$(cap_drops)
    # Not --privileged: that asks for every capability, and an engine that itself runs without
    # one (CAP_SYS_RESOURCE on this project's machines) cannot grant it. What Docker-in-Docker
    # needs is spelled out instead; the entrypoint makes the cgroup mounts writable.
    # shellcheck disable=SC2086 # options, one a word
    docker run -d --name "$name" --hostname "$name" --label "$label" \
        --cap-add ALL $drops --security-opt seccomp=unconfined \
        --security-opt apparmor=unconfined --security-opt systempaths=unconfined \
        --network "$net" --memory "$node_memory" --volume "$name:/var/lib/docker" --tmpfs /run \
        "$image" >/dev/null
}

swarm_state() {
    docker -H "$1" info --format '{{.Swarm.LocalNodeState}}'
}

ensure_swarm() {
    local count=$1 manager manager_api token name api
    manager=${node_prefix}1
    manager_api=$(node_api "$manager")
    if [ "$(swarm_state "$manager_api")" != active ]; then
        docker -H "$manager_api" swarm init --advertise-addr "$(address_of "$manager")" \
            --default-addr-pool 10.215.0.0/16 >/dev/null
    fi
    token=$(docker -H "$manager_api" swarm join-token -q worker)
    for i in $(seq 2 "$count"); do
        name=$node_prefix$i
        api=$(node_api "$name")
        if [ "$(swarm_state "$api")" != active ]; then
            docker -H "$api" swarm join --token "$token" --advertise-addr "$(address_of "$name")" \
                "$(address_of "$manager"):2377" >/dev/null
        fi
    done
    # Each node carries its engine's address as a label: the runner reads it from the node
    # that Swarm chose for a pod (it keeps no node list of its own).
    for i in $(seq 1 "$count"); do
        name=$node_prefix$i
        docker -H "$manager_api" node update --label-add "prodproven.engine=$(node_api "$name")" \
            "$name" >/dev/null
    done
    for _ in $(seq 1 60); do
        if [ "$(docker -H "$manager_api" node ls --filter role=worker -q | wc -l)" -ge $((count - 1)) ] \
            && ! docker -H "$manager_api" node ls --format '{{.Hostname}} {{.Status}}' | grep -qv ' Ready$'; then
            return
        fi
        sleep 1
    done
    docker -H "$manager_api" node ls >&2
    die "not every node of the swarm is Ready after 60 s (above)"
}

write_state() {
    local count=$1 manager_api registry_port nodes=""
    manager_api=$(node_api "${node_prefix}1")
    registry_port=$(docker port "$registry" 5000/tcp | head -n 1 | sed 's/.*://')
    for i in $(seq 1 "$count"); do
        nodes="$nodes${nodes:+ }$(node_api "$node_prefix$i")"
    done
    mkdir -p "$data_dir"
    cat >"$state.partial" <<EOF
CLUSTER_MANAGER_URL=$manager_api
CLUSTER_NODE_URLS="$nodes"
CLUSTER_REGISTRY_PUSH=127.0.0.1:$registry_port
CLUSTER_REGISTRY_PULL=registry:5000
CLUSTER_SUBNET=$(docker network inspect --format '{{(index .IPAM.Config 0).Subnet}}' "$net")
CLUSTER_NODES=$count
EOF
    mv "$state.partial" "$state"
}

up() {
    local count=${1:-} node_image registry_image started
    [[ "$count" =~ ^[1-9][0-9]*$ ]] || die "up needs a node count of 1 or more, e.g. 'up 3' (got '${count}')"
    started=$(date +%s)
    docker image inspect "$base_image" >/dev/null 2>&1 \
        || die "base image $base_image is missing: build it with 'prodproven images build' or set CLUSTER_BASE_IMAGE"
    node_image=$(build_image node)
    registry_image=$(build_image registry)
    ensure_network
    ensure_registry "$registry_image"
    for i in $(seq 1 "$count"); do
        ensure_node "$node_prefix$i" "$node_image"
    done
    for i in $(seq 1 "$count"); do
        wait_engine "$node_prefix$i"
    done
    ensure_swarm "$count"
    write_state "$count"
    say "up: $count nodes in $(($(date +%s) - started)) s (state: $state)"
    # shellcheck disable=SC1090
    . "$state"
    echo "network:        $net $CLUSTER_SUBNET"
    echo "manager API:    $CLUSTER_MANAGER_URL   (DOCKER_HOST=$CLUSTER_MANAGER_URL docker node ls)"
    echo "registry:       push $CLUSTER_REGISTRY_PUSH/prodproven/NAME, nodes pull $CLUSTER_REGISTRY_PULL/prodproven/NAME"
}

status() {
    docker ps -a --filter "label=$label" --format '{{.Names}}\t{{.Status}}'
    if running "${node_prefix}1"; then
        docker -H "$(node_api "${node_prefix}1")" node ls
    fi
    if [ -f "$state" ]; then
        cat "$state"
    fi
}

down() {
    local containers volumes
    containers=$(docker ps -aq --filter "label=$label")
    if [ -n "$containers" ]; then
        # shellcheck disable=SC2086 # ids, one a word
        docker rm -f -v $containers >/dev/null
    fi
    volumes=$(docker volume ls -q --filter name=pp-cluster-)
    if [ -n "$volumes" ]; then
        # shellcheck disable=SC2086 # names, one a word
        docker volume rm $volumes >/dev/null
    fi
    if docker network inspect "$net" >/dev/null 2>&1; then
        docker network rm "$net" >/dev/null
    fi
    rm -f "$state"
    say "down: the cluster's containers, volumes and network are removed (images kept)"
}

case ${1:-} in
    up) up "${2:-}" ;;
    status) status ;;
    down) down ;;
    *) usage ;;
esac
