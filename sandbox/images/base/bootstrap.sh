#!/usr/bin/env bash
# Make a minimal Debian root filesystem with Python 3.11 for the offline base image.
# Used when no registry answers (air-gapped installs); prodproven imports the result.
# Usage: bootstrap.sh ROOTFS_DIR MIRROR_URL
set -euo pipefail
rootfs=$1
mirror=$2
if ! command -v debootstrap >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
fi
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip \
    bookworm "$rootfs" "$mirror"
# Keep the image small: package lists and caches are not needed at run time.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
