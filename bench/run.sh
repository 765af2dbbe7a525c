#!/bin/sh
# Lockbox benchmarks (never part of pass/fail tests): `make bench`, or
#   bench/run.sh BUILD_DIR [--quick] [--only fast,unblock,capacity,growth,pg,remote,fleet]
#                [--rows N]
#                [--pg-rows N] [--before OLD_BUILD_DIR]
# "pg" (PostgreSQL store beside SQLite) runs only when PostgreSQL 15 is installed; "remote"
# (the API over TLS beside the Unix socket) and "fleet" (one central, two agents and up to
# 10,000 simulated hosts' feeds, bench_fleet.py) need the openssl command.
# Builds the C drivers into BUILD_DIR/bench with cc, then runs bench/lockbox_bench.py, which
# prints one table per benchmark and writes BUILD_DIR/bench/results.md (copy the figures into
# docs/PERFORMANCE.md with the machine line). Needs root (users, SO_PEERCRED identities).
set -eu
if [ $# -lt 1 ]; then
    echo "usage: bench/run.sh BUILD_DIR [--quick] [--only LIST] [--rows N] [--pg-rows N]" \
        "[--before OLD_BUILD_DIR]" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
shift
here=$(cd "$(dirname "$0")" && pwd)
out="$build/bench"
mkdir -p "$out"

for artefact in "$build/lockboxd/lockboxd" "$build/pam_lockbox/pam_lockbox.so"; do
    if [ ! -e "$artefact" ]; then
        echo "bench/run.sh: $artefact is missing; build first (make build)" >&2
        exit 1
    fi
done
if [ "$(id -u)" -ne 0 ]; then
    echo "bench/run.sh: run as root (the benchmarks create users and run lockboxd)" >&2
    exit 1
fi

cflags="-O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes"
cc=${CC:-cc}
$cc $cflags -o "$out/lbx_load" "$here/lbx_load.c" "$here/bench_http.c" "$here/bench_login.c" \
    "$here/bench_stats.c" -ljson-c
$cc $cflags -o "$out/pam_login_bench" "$here/pam_login_bench.c" "$here/bench_stats.c" -lpam
# Links nothing but libc: the host's libraries are what --preload says.
$cc $cflags -o "$out/module_load_bench" "$here/module_load_bench.c" "$here/bench_stats.c"

# 10,000 waiting logins hold 10,000 descriptors in the driver and in lockboxd (which the
# benchmark starts under prlimit --nofile=65536).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec python3 -B "$here/lockbox_bench.py" "$build" --report "$out/results.md" "$@"
