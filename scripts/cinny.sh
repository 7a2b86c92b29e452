#!/usr/bin/env bash
# Builds Cinny (test material, AGPL, never part of the package) from its source archive, once per input.
#
#   scripts/cinny.sh [--pkg TARBALL] [PATCH…]
#
# Without arguments: the plain build. With patches (unified diffs against Cinny's tree, applied with
# `patch -p1`) and/or --pkg (an `npm pack` tarball of pkg/, installed the way an operator would:
# `npm install TARBALL`), a variant build. Each build is cached in ~/.cache under a key made of the
# archive's sha256 and the inputs' sha256, so a second run with the same inputs only prints the path.
# The last line printed is the built dist/ directory.
#
# The archive: $MCG_CINNY_SRC (the .tar.gz, or a folder holding it), else ../shared/clients/ beside the repo.
# Exit code 3 (with one line on stderr) when the archive is absent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
archive_name=cinny-4.2.3-rust-crypto.tar.gz

archive=${MCG_CINNY_SRC:-$root/../shared/clients/$archive_name}
[ -d "$archive" ] && archive=$archive/$archive_name
if [ ! -f "$archive" ]; then
  echo "Cinny source archive not found ($archive): set MCG_CINNY_SRC to $archive_name (see shared/clients/README.md)" >&2
  exit 3
fi

pkg=""; patches=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pkg) pkg=$(realpath "$2"); shift 2 ;;
    *) patches+=("$(realpath "$1")"); shift ;;
  esac
done

sha() { sha256sum "$@" | cut -c1-64; }
cache=${MCG_CINNY_CACHE:-$HOME/.cache/matrix-crypto-guardian/cinny}/$(sha "$archive" | cut -c1-16)
mkdir -p "$cache"
log() { echo "cinny: $*" >&2; }

# Serialises builds of the same archive (two test files may ask at once).
exec 9>"$cache/.lock"
flock 9

# 1. The unpacked source with its node_modules, shared by every build.
base=$cache/source
if [ ! -f "$base/.installed" ]; then
  log "unpacking and installing Cinny's dependencies into $base (a few minutes, once)"
  rm -rf "$base" "$base.tmp"; mkdir -p "$base.tmp"
  tar -xzf "$archive" -C "$base.tmp"
  mv "$base.tmp/cinny" "$base"; rmdir "$base.tmp"
  (cd "$base" && npm install --legacy-peer-deps --no-audit --no-fund >&2)
  touch "$base/.installed"
fi

# 2. The build for these inputs.
if [ -z "$pkg" ] && [ ${#patches[@]} = 0 ]; then
  key=plain
else
  key=$({ [ -n "$pkg" ] && sha "$pkg"; for p in "${patches[@]}"; do sha "$p"; done; } | sha256sum | cut -c1-16)
fi
out=$cache/build-$key
if [ ! -f "$out/dist/index.html" ]; then
  started=$(date +%s)
  if [ "$key" = plain ]; then
    work=$base
  else
    work=$cache/work-$key
    rm -rf "$work"; mkdir -p "$work"
    # The source without node_modules is small; node_modules is hard-linked unless a package gets installed.
    (cd "$base" && tar --exclude=./node_modules --exclude=./dist -cf - .) | (cd "$work" && tar -xf -)
    if [ -n "$pkg" ]; then cp -a "$base/node_modules" "$work/"; else cp -al "$base/node_modules" "$work/"; fi
    for p in "${patches[@]}"; do
      log "applying $(basename "$p")"
      (cd "$work" && patch -p1 --forward --batch < "$p" >&2)
    done
    if [ -n "$pkg" ]; then
      log "npm install $(basename "$pkg")"
      (cd "$work" && npm install --legacy-peer-deps --no-audit --no-fund "$pkg" >&2)
    fi
  fi
  log "vite build ($key)"
  (cd "$work" && rm -rf dist && npm run build >&2)
  rm -rf "$out"; mkdir -p "$out"
  mv "$work/dist" "$out/dist"
  [ "$work" != "$base" ] && rm -rf "$work"
  log "built $key in $(( $(date +%s) - started )) s"
fi
echo "$out/dist"
