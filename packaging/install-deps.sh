#!/bin/sh
# Installs the Debian packages Lockbox builds and tests with, when they are missing (and any
# extra package names given as arguments).
# Runs apt-get only as root and only for what is absent, so repeated `make test` stays fast.
set -eu
PKGS="build-essential cmake pkg-config libmicrohttpd-dev libsqlite3-dev libjson-c-dev
libcurl4-openssl-dev libcmocka-dev libinih-dev libpam0g-dev libssl-dev python3
pamtester openssh-server openssh-client sudo libfaketime valgrind sqlite3 util-linux
passwd procps
clang libclang-rt-14-dev e2fsprogs strace"
PKGS="$PKGS $*" # extra packages a caller needs, e.g. build-deb.sh's debhelper and lintian
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "lockbox: missing build dependencies:$missing" >&2
    echo "lockbox: install them (sudo apt-get install$missing) or run make as root" >&2
    exit 1
fi
echo "lockbox: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
