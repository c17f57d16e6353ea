#!/usr/bin/env bash
# Builds Dendrite v0.15.2 (server + the helper tools the test harness calls)
# into a per-user cache dir once; later runs reuse the binaries.
#
# A plain `go install github.com/element-hq/dendrite/cmd/dendrite@v0.15.2`
# fails here because the module proxy refuses the version list it consults, so
# the module is downloaded by exact version and built inside its own directory
# (with its own go.mod, so it never touches Polyglot's module).
#
# Prints the bin dir on stdout. Safe to run concurrently (flock).
set -euo pipefail
VERSION=v0.15.2
CACHE="${POLYGLOT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/polyglot-test}"
BIN="$CACHE/dendrite-$VERSION/bin"
TOOLS=(dendrite generate-keys generate-config create-account)

have_all() {
  for t in "${TOOLS[@]}"; do [ -x "$BIN/$t" ] || return 1; done
}

if have_all; then echo "$BIN"; exit 0; fi

mkdir -p "$CACHE"
exec 9>"$CACHE/dendrite-$VERSION.lock"
flock 9
if have_all; then echo "$BIN"; exit 0; fi

command -v go  >/dev/null || { echo "build-dendrite: go not found" >&2; exit 1; }
command -v gcc >/dev/null || command -v cc >/dev/null || { echo "build-dendrite: a C compiler is needed (Dendrite's SQLite uses cgo)" >&2; exit 1; }

# Run outside any enclosing module so its go.mod/go.work are not consulted.
cd "$CACHE"
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=1
dir=$(go mod download -json "github.com/element-hq/dendrite@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -d "$dir" ] || { echo "build-dendrite: could not download dendrite $VERSION" >&2; exit 1; }

tmp="$BIN.tmp.$$"
rm -rf "$tmp"; mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
(cd "$dir" && go build -trimpath -o "$tmp/" ./cmd/dendrite ./cmd/generate-keys ./cmd/generate-config ./cmd/create-account) >&2
mkdir -p "$BIN"
for t in "${TOOLS[@]}"; do mv -f "$tmp/$t" "$BIN/$t"; done
echo "$BIN"
