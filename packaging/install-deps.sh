#!/bin/sh
# Installs the Debian packages Lockbox builds and tests with, when they are missing (and any
# extra package names given as arguments).
# Runs apt-get only as root and only for what is absent, so repeated `make test` stays fast.
set -eu
PKGS="build-essential cmake pkg-config libmicrohttpd-dev libgnutls28-dev libsqlite3-dev libjson-c-dev
libcurl4-openssl-dev libcmocka-dev libinih-dev libpam0g-dev libssl-dev python3
pamtester openssh-server openssh-client sudo libfaketime valgrind sqlite3 util-linux
passwd procps openssl curl
clang libclang-rt-14-dev e2fsprogs strace
libpq-dev postgresql-15"
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

# Debian's postgresql-15 creates a "main" cluster when it is first installed (and on a systemd
# host starts it, on localhost:5432, at every boot). The tests start private clusters of their
# own (tests/integration/pg_cluster.py) and need none, so the server goes in without one:
# postgresql-common's createcluster.conf reads createcluster.d/*.conf, and a file of ours there
# says create_main_cluster = off while apt-get runs, and is removed when this script exits.
# Nothing the machine already has is replaced or edited, and an existing cluster is untouched.
# The other ways would leave more behind: editing createcluster.conf changes an admin's file, a
# policy-rc.d stops every service's start (and one already exists in containers), and dropping
# the cluster afterwards removes data the admin may have expected.
CREATECLUSTER_DIR=/etc/postgresql-common/createcluster.d
NO_MAIN_CLUSTER="$CREATECLUSTER_DIR/lockbox-install-deps.conf"
made_dir=0
made_file=0
remove_no_main_cluster() {
    [ "$made_file" = 1 ] && rm -f "$NO_MAIN_CLUSTER"
    [ "$made_dir" = 1 ] && rmdir "$CREATECLUSTER_DIR" 2>/dev/null
    return 0
}
case " $missing " in
*" postgresql-15 "*)
    # postgresql-common first: it brings the createcluster.conf that reads our file.
    apt-get install -y -qq --no-install-recommends postgresql-common >/dev/null
    if grep -q "^include_dir '$CREATECLUSTER_DIR'" /etc/postgresql-common/createcluster.conf &&
        [ ! -e "$NO_MAIN_CLUSTER" ]; then
        trap remove_no_main_cluster EXIT
        trap 'exit 1' INT TERM HUP
        [ -d "$CREATECLUSTER_DIR" ] || { mkdir -p "$CREATECLUSTER_DIR" && made_dir=1; }
        echo "create_main_cluster = off # while Lockbox's install-deps.sh runs" >"$NO_MAIN_CLUSTER"
        made_file=1
    else
        echo "lockbox: postgresql-15 may create its default cluster; the tests do not use it" >&2
    fi
    ;;
esac
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
