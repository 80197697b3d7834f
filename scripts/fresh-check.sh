#!/usr/bin/env bash
# `make fresh-check`: the README's two commands on a fresh machine, for real.
#
# Clones this repository's committed HEAD (a git bundle: nothing beside the
# repository comes along) into a podman container made from a bare Debian
# bookworm image (scripts/base-image.sh) with only make and git added, runs
# `make demo`, then `make test`, and prints the wall time of each. The
# container is privileged only so that the tests may use strace and network
# namespaces, as they can on a machine of one's own.
#
# The machine's own CA bundle is lent to the container, for machines whose
# traffic to the package registries passes a TLS-inspecting proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
image=$(scripts/base-image.sh)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git bundle create --quiet "$work/docmill.bundle" HEAD
ca=()
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    ca=(-v /etc/ssl/certs/ca-certificates.crt:/host-ca.crt:ro -e PIP_CERT=/host-ca.crt -e SSL_CERT_FILE=/host-ca.crt)
fi
podman run --rm --privileged "${ca[@]}" -v "$work:/bundle:ro" "$image" bash -euo pipefail -c '
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq make git >/dev/null
    git clone -q /bundle/docmill.bundle /root/docmill && cd /root/docmill
    start=$(date +%s); make demo; demo=$(( $(date +%s) - start ))
    start=$(date +%s); make test; tests=$(( $(date +%s) - start ))
    echo "fresh-check: make demo took ${demo} s, make test ${tests} s (in a bare Debian bookworm container)"
'
