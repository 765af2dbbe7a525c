#!/bin/sh
# Runs the libFuzzer targets built by fuzz/build.sh.
#   fuzz/run.sh OUTDIR SECONDS [TARGET...]   fuzz each target for SECONDS, starting from the
#                                            seeds (fuzz/corpus/T) and the regressions
#   fuzz/run.sh --replay OUTDIR [TARGET...]  run every seed and regression input once
# New inputs go to OUTDIR/corpus/T, crashes to OUTDIR/artifacts/T/. A crash fails the run;
# fix it, then keep the input as fuzz/regressions/T/<name> so the replay checks it forever.
set -eu
SRC=$(cd "$(dirname "$0")" && pwd)
replay=0
if [ "${1:-}" = "--replay" ]; then
    replay=1
    shift
fi
OUT=${1:?usage: fuzz/run.sh [--replay] OUTDIR [SECONDS] [TARGET...]}
shift
if [ $replay -eq 0 ]; then
    SECONDS_EACH=${1:?usage: fuzz/run.sh OUTDIR SECONDS [TARGET...]}
    shift
fi
TARGETS=${*:-"body config audit_chain duration text timefmt request_json pam_args login_request login_reply activation client_cert grant"}
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

max_len_of() {
    case "$1" in
    body|login_request|login_reply) echo 17000 ;;
    audit_chain) echo 20000 ;;
    config) echo 8192 ;;
    *) echo 4096 ;;
    esac
}

failed=""
for t in $TARGETS; do
    bin="$OUT/fuzz_$t"
    [ -x "$bin" ] || { echo "fuzz: $bin is not built (run fuzz/build.sh $OUT)" >&2; exit 2; }
    mkdir -p "$OUT/corpus/$t" "$OUT/artifacts/$t"
    if [ $replay -eq 1 ]; then
        # Every file, one run each: the seeds and every input that once crashed.
        files=$(find "$SRC/corpus/$t" "$SRC/regressions/$t" -type f ! -name '.*' 2>/dev/null | sort)
        [ -n "$files" ] || continue
        # shellcheck disable=SC2086
        if ! "$bin" -runs=1 -artifact_prefix="$OUT/artifacts/$t/" $files >"$OUT/replay_$t.log" 2>&1; then
            cat "$OUT/replay_$t.log" >&2
            failed="$failed $t"
        else
            echo "fuzz replay $t: $(echo "$files" | wc -l) inputs ok"
        fi
        continue
    fi
    echo "fuzz $t: ${SECONDS_EACH}s"
    # New inputs go to the first directory (the build's), never into the source tree.
    dirs="$OUT/corpus/$t"
    for d in "$SRC/corpus/$t" "$SRC/regressions/$t"; do
        [ -d "$d" ] && dirs="$dirs $d"
    done
    # shellcheck disable=SC2086
    if ! "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$(max_len_of "$t")" -print_final_stats=1 \
        -artifact_prefix="$OUT/artifacts/$t/" $dirs >"$OUT/fuzz_$t.log" 2>&1; then
        tail -n 60 "$OUT/fuzz_$t.log" >&2
        echo "fuzz $t: FAILED; the input is in $OUT/artifacts/$t/ — fix the bug, then add it" \
             "to fuzz/regressions/$t/" >&2
        failed="$failed $t"
    else
        grep -E '^(stat::number_of_executed_units|stat::new_units_added)' "$OUT/fuzz_$t.log" |
            tr '\n' ' '
        echo
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed" >&2
    exit 1
fi
