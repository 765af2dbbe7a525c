#!/bin/sh
# Checks that every C file of the project is formatted as .clang-format says (exit 0), or names
# each file that is not and how many of its lines would change (exit 1). With --fix, formats
# them in place instead. `make check-format` and `make format` run it.
#
#   scripts/check-format.sh [--fix] [FILE ...]     (default: every tracked *.c and *.h)
#
# The layout clang-format produces differs between its major versions, so the check is pinned
# to the one Debian 12 ships (14); CLANG_FORMAT names another binary, LOCKBOX_CLANG_FORMAT_ANY=1
# accepts any version (expect differences that are not real).
set -eu
cd "$(dirname "$0")/.."

fix=0
if [ "${1:-}" = "--fix" ]; then
    fix=1
    shift
fi

tool=${CLANG_FORMAT:-clang-format}
if ! command -v "$tool" >/dev/null 2>&1; then
    echo "check-format: $tool not found; install it (apt-get install clang-format)" >&2
    exit 2
fi
version=$("$tool" --version | sed -n 's/.*clang-format version \([0-9]*\)\..*/\1/p')
if [ "$version" != "14" ] && [ "${LOCKBOX_CLANG_FORMAT_ANY:-0}" != "1" ]; then
    echo "check-format: $tool is version ${version:-unknown}, .clang-format is tuned for 14" >&2
    echo "check-format: set CLANG_FORMAT to clang-format-14, or LOCKBOX_CLANG_FORMAT_ANY=1" >&2
    exit 2
fi

if [ $# -eq 0 ]; then
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        # shellcheck disable=SC2046 # file names in this tree have no spaces
        set -- $(git ls-files '*.c' '*.h')
    else
        # shellcheck disable=SC2046
        set -- $(find . -path ./build\* -prune -o \( -name '*.c' -o -name '*.h' \) -print | sort)
    fi
fi

if [ "$fix" -eq 1 ]; then
    "$tool" -i --style=file "$@"
    exit 0
fi

bad=0
lines=0
formatted=$(mktemp)
trap 'rm -f "$formatted"' EXIT
for file in "$@"; do
    "$tool" --style=file "$file" >"$formatted"
    if ! cmp -s "$file" "$formatted"; then
        # Lines of the file that the formatter would replace.
        changed=$(diff "$file" "$formatted" | grep -c '^<' || true)
        echo "$file: $changed line(s) not formatted"
        bad=$((bad + 1))
        lines=$((lines + changed))
    fi
done
if [ "$bad" -gt 0 ]; then
    echo "check-format: $bad file(s), $lines line(s) differ from .clang-format;" \
        "run 'make format' (or scripts/check-format.sh --fix FILE) and review the diff" >&2
    exit 1
fi
echo "check-format: $# file(s) formatted"
