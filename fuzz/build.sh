#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan) into OUTDIR, independently of the gcc
# build: fuzz/build.sh OUTDIR. Prints nothing on success but the targets it built.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: fuzz/build.sh OUTDIR}
CC=${FUZZ_CC:-clang}
mkdir -p "$OUT/obj"

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="-g -O1 -std=gnu11 -Wall -Wextra $SAN -fsanitize=fuzzer-no-link
        -I$SRC/lib -I$SRC/lockboxd -I$SRC/pam_lockbox $(pkg-config --cflags json-c inih libcurl)"
LIBS="$(pkg-config --libs json-c libcrypto inih libcurl)"

# Each target: the sources under test (relative to the repository).
LIB_COMMON="lib/text.c lib/duration.c lib/timefmt.c lib/request.c"
sources_of() {
    case "$1" in
    body)         echo "$LIB_COMMON lib/login_message.c lockboxd/body.c" ;;
    config)       echo "$LIB_COMMON lockboxd/config.c" ;;
    audit_chain)  echo "$LIB_COMMON lib/audit_chain.c" ;;
    duration)     echo "lib/duration.c" ;;
    text)         echo "lib/text.c" ;;
    timefmt)      echo "lib/timefmt.c" ;;
    request_json) echo "$LIB_COMMON lib/request_json.c" ;;
    pam_args)     echo "lib/text.c pam_lockbox/args.c" ;;
    login_request)
                  echo "$LIB_COMMON lib/login_message.c lockboxd/body.c lockboxd/login_request.c" ;;
    # The module's reply handling with login_call() stubbed in the target (no socket), and
    # lockboxd's request parser to check that every request the module sends is accepted.
    login_reply)  echo "$LIB_COMMON lib/login_message.c lib/request_json.c pam_lockbox/daemon_api.c
                        lockboxd/body.c lockboxd/login_request.c" ;;
    activation)   echo "lockboxd/activation.c lockboxd/readiness.c" ;;
    *) echo "unknown target $1" >&2; exit 2 ;;
    esac
}
TARGETS=${FUZZ_TARGETS:-"body config audit_chain duration text timefmt request_json pam_args
                         login_request login_reply activation"}

# Compile each source once; recompile when it or any header is newer than its object.
newest_header=$(ls -t "$SRC"/lib/*.h "$SRC"/lockboxd/*.h "$SRC"/pam_lockbox/*.h | head -n 1)
compile() {
    src=$1
    obj="$OUT/obj/$(echo "$src" | tr / _).o"
    if [ ! -f "$obj" ] || [ "$SRC/$src" -nt "$obj" ] || [ "$newest_header" -nt "$obj" ] ||
       [ "$0" -nt "$obj" ]; then
        # shellcheck disable=SC2086
        $CC $CFLAGS -c "$SRC/$src" -o "$obj"
    fi
    echo "$obj"
}

for t in $TARGETS; do
    objs=""
    for s in $(sources_of "$t") "fuzz/fuzz_$t.c"; do
        objs="$objs $(compile "$s")"
    done
    # shellcheck disable=SC2086
    $CC $SAN -fsanitize=fuzzer $objs $LIBS -o "$OUT/fuzz_$t"
    echo "$OUT/fuzz_$t"
done
