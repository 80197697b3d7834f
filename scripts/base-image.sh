#!/usr/bin/env bash
# A bare Debian image for podman, made from Debian's own archive: no image registry needed.
#
#   scripts/base-image.sh            # prints the image name (default localhost/debian:bookworm)
#
# Installs podman (with runc) and debootstrap when missing, bootstraps a
# minimal Debian root file system and imports it as a local image. Run as
# root; idempotent: an existing image is kept. `make fresh-check` and
# `make container-test` build FROM it.
set -euo pipefail
image=${IMAGE:-localhost/debian:bookworm}
suite=${SUITE:-bookworm}
mirror=${MIRROR:-http://deb.debian.org/debian}

missing=()
for tool in podman runc debootstrap; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if ((${#missing[@]})); then
    echo "installing ${missing[*]} with apt-get" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Some kernels' cgroup set-ups defeat crun, and containers here may not raise
# their own limits: use runc and inherit the limits, unless configured already.
conf=/etc/containers/containers.conf
if [ ! -e "$conf" ]; then
    mkdir -p /etc/containers
    printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' >"$conf"
fi

if ! podman image exists "$image"; then
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    echo "bootstrapping Debian $suite from $mirror" >&2
    debootstrap --variant=minbase "$suite" "$root" "$mirror" >/dev/null
    tar -C "$root" -c . | podman import - "$image" >/dev/null
fi
echo "$image"
