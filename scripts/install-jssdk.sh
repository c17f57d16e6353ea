#!/usr/bin/env bash
# Installs the matrix-js-sdk test peer's Node packages (exact versions from
# internal/testserver/peers/jssdk/package-lock.json) into a per-user cache dir
# keyed by the lockfile's hash, once; later runs reuse it. A changed lockfile
# gets a fresh directory, so a stale install is never used.
#
# Prints the node_modules dir on stdout. Safe to run concurrently (flock).
set -euo pipefail
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/internal/testserver/peers/jssdk"
CACHE="${POLYGLOT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/polyglot-test}"
command -v node >/dev/null || { echo "install-jssdk: node not found (run scripts/test-deps.sh)" >&2; exit 1; }
command -v npm  >/dev/null || { echo "install-jssdk: npm not found (run scripts/test-deps.sh)" >&2; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || { echo "install-jssdk: Node $(node --version) is too old; matrix-js-sdk needs Node >= 20" >&2; exit 1; }

hash=$(cat "$SRC/package.json" "$SRC/package-lock.json" | sha256sum | cut -c1-16)
DIR="$CACHE/jssdk-$hash"
MARK="$DIR/.installed"
if [ -f "$MARK" ]; then echo "$DIR/node_modules"; exit 0; fi

mkdir -p "$CACHE"
exec 9>"$DIR.lock"
flock 9
if [ -f "$MARK" ]; then echo "$DIR/node_modules"; exit 0; fi

tmp="$DIR.tmp.$$"
rm -rf "$tmp"; mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
cp "$SRC/package.json" "$SRC/package-lock.json" "$tmp/"
# No package here needs an install script; refusing them keeps the install
# to exactly the locked files.
(cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
rm -rf "$DIR"
mv "$tmp" "$DIR"
touch "$MARK"
echo "$DIR/node_modules"
