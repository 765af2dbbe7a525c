#!/bin/sh
# Builds the lockbox .deb (`make deb`): copies the source tree without build output into a
# scratch directory, adds packaging/debian as debian/, runs dpkg-buildpackage, then lintian.
# Usage: packaging/build-deb.sh [OUTDIR]   (default: build-deb/ in the source tree)
# Prints the path of the .deb as its last line.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/build-deb}

# What building a Debian package needs beyond `make test`'s dependencies.
"$src/packaging/install-deps.sh" debhelper dpkg-dev lintian

changelog_version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
cmake_version=$(sed -n 's/^project(lockbox VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
if [ "$changelog_version" != "$cmake_version" ]; then
    echo "build-deb: packaging/debian/changelog says $changelog_version but CMakeLists.txt" \
         "says $cmake_version; add a changelog entry (dch -v $cmake_version)" >&2
    exit 1
fi

work=$(mktemp -d /tmp/lockbox-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
tree="$work/lockbox-$changelog_version"
mkdir -p "$tree" "$out"
# Build directories (build*, dist), VCS data and stray packages stay out of the package source.
tar -C "$src" --exclude='./build*' --exclude=./.git --exclude=./dist --exclude='*.deb' \
    --exclude='__pycache__' -cf - . | tar -C "$tree" -xf -
cp -r "$src/packaging/debian" "$tree/debian"

echo "build-deb: dpkg-buildpackage in $tree" >&2
(cd "$tree" && dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1) || {
    tail -n 60 "$work/build.log" >&2
    echo "build-deb: dpkg-buildpackage failed (log above)" >&2
    exit 1
}
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb="lockbox_${changelog_version}_${arch}.deb"
rm -f "$out"/lockbox_*.deb "$out"/lockbox-dbgsym_*.deb "$out"/lockbox_*.changes \
      "$out"/lockbox_*.buildinfo
mv "$work/$deb" "$work"/lockbox_*.changes "$work"/lockbox_*.buildinfo "$out"/
for dbg in "$work"/lockbox-dbgsym_*.deb; do
    [ -e "$dbg" ] && mv "$dbg" "$out"/
done

# lintian: errors fail the build; warnings and overrides are listed (docs/OPERATIONS.md).
if command -v lintian >/dev/null; then
    lintian --info --display-info --show-overrides --fail-on error "$out/$deb" \
        >"$out/lintian.txt" 2>&1 || {
        cat "$out/lintian.txt" >&2
        echo "build-deb: lintian found errors" >&2
        exit 1
    }
    echo "build-deb: lintian: $(grep -c '^[EW]:' "$out/lintian.txt" || true) error(s)/warning(s)," \
         "$(grep -c '^O:' "$out/lintian.txt" || true) override(s); see $out/lintian.txt" >&2
fi
echo "$out/$deb"
