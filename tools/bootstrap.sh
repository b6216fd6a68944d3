#!/bin/sh
# Installs the Debian packages tedi builds against (OpenBLAS, libyaml, libpng, pkg-config),
# only those that are missing. Safe to run repeatedly; needs root or sudo when it installs.
set -eu
need=""
for p in libopenblas-dev libyaml-dev libpng-dev pkg-config; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
    echo "tedi: installing missing packages:$need" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need
fi
if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        echo "tedi: swift is at /opt/swift/usr/bin but not on PATH; run: export PATH=/opt/swift/usr/bin:\$PATH" >&2
    else
        echo "tedi: Swift 6.3 is needed (https://www.swift.org/install/linux/)" >&2
    fi
    exit 1
fi
