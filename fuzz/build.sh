#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan) into OUTDIR, independently of the gcc
# build: fuzz/build.sh OUTDIR. Prints nothing on success but the targets it built.
# The code under test comes from the project's own libraries (lockbox_core, lockbox_common,
# lockboxd_core), built here by CMake with clang and the fuzzing flags: the targets fuzz what
# the programs link, and no list of sources is kept twice. Only the module's files, which no
# library holds (pam_lockbox.so is a module), are compiled here.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: fuzz/build.sh OUTDIR}
CC=${FUZZ_CC:-clang}
mkdir -p "$OUT/obj"

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="-g -O1 -std=gnu11 -Wall -Wextra $SAN -fsanitize=fuzzer-no-link
        -I$SRC/lib -I$SRC/lockboxd -I$SRC/pam_lockbox $(pkg-config --cflags json-c inih libcurl libpq gnutls)"
LIBS="$(pkg-config --libs json-c libcrypto inih libcurl libmicrohttpd sqlite3 libpq gnutls) -lpthread"

# The libraries, with the same compiler and flags as the targets.
LIBDIR="$OUT/libs"
# shellcheck disable=SC2086
cmake -S "$SRC" -B "$LIBDIR" -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=Debug \
      -DCMAKE_C_FLAGS="-g -O1 $SAN -fsanitize=fuzzer-no-link" -DLOCKBOX_FUZZ=OFF \
      -DLOCKBOX_SANITIZE=OFF -DLOCKBOX_WERROR=OFF >"$OUT/libs.log" 2>&1 || { cat "$OUT/libs.log" >&2; exit 1; }
cmake --build "$LIBDIR" -j2 --target lockboxd_core lockbox_common lockbox_core \
      >>"$OUT/libs.log" 2>&1 || { cat "$OUT/libs.log" >&2; exit 1; }
# Most specific first: a static archive serves only what the objects before it still need.
ARCHIVES="$LIBDIR/lockboxd/liblockboxd_core.a $LIBDIR/lib/liblockbox_common.a
          $LIBDIR/lib/liblockbox_core.a"

# Each target: the module's sources it needs besides the libraries (relative to the repository).
module_sources_of() {
    case "$1" in
    body|config|audit_chain|duration|text|timefmt|request_json|login_request|activation) ;;
    grant) ;;
    client_cert) ;;
    pam_args)     echo "pam_lockbox/args.c" ;;
    # The module's reply handling with login_call() stubbed in the target (no socket), and
    # lockboxd's request parser to check that every request the module sends is accepted.
    login_reply)  echo "pam_lockbox/daemon_api.c" ;;
    *) echo "unknown target $1" >&2; exit 2 ;;
    esac
}
TARGETS=${FUZZ_TARGETS:-"body config audit_chain duration text timefmt request_json pam_args
                         login_request login_reply activation client_cert grant"}

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
    for s in $(module_sources_of "$t") "fuzz/fuzz_$t.c"; do
        objs="$objs $(compile "$s")"
    done
    # shellcheck disable=SC2086
    $CC $SAN -fsanitize=fuzzer $objs $ARCHIVES $LIBS -o "$OUT/fuzz_$t"
    echo "$OUT/fuzz_$t"
done
