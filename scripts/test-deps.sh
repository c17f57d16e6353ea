#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine: real servers
# (Prosody), foreign clients (slixmpp, matrix-nio with olm, Node.js for the
# matrix-js-sdk peer, profanity with OMEMO as an OMEMO peer), tmux for the
# end-to-end tests, a real sixel terminal (xterm on the headless X server
# Xvfb, xwd for screenshots, xwininfo for its geometry, xdotool to type), openssl for per-run
# certificates, a Secret Service (gnome-keyring on a private D-Bus,
# secret-tool to look from outside) for the OS-keyring tests. Idempotent and
# quiet.
set -euo pipefail
need=()
command -v prosody  >/dev/null 2>&1 || need+=(prosody lua-unbound)
command -v tmux     >/dev/null 2>&1 || need+=(tmux)
command -v Xvfb     >/dev/null 2>&1 || need+=(xvfb)
command -v xterm    >/dev/null 2>&1 || need+=(xterm)
command -v xwd      >/dev/null 2>&1 || need+=(x11-apps)
command -v xwininfo >/dev/null 2>&1 || need+=(x11-utils)
command -v xdotool  >/dev/null 2>&1 || need+=(xdotool)
command -v profanity >/dev/null 2>&1 || need+=(profanity)
command -v openssl  >/dev/null 2>&1 || need+=(openssl)
command -v dbus-daemon >/dev/null 2>&1 || need+=(dbus-daemon)
command -v gnome-keyring-daemon >/dev/null 2>&1 || need+=(gnome-keyring)
command -v secret-tool >/dev/null 2>&1 || need+=(libsecret-tools)
/usr/bin/python3 -c 'import slixmpp' 2>/dev/null || need+=(python3-slixmpp)
/usr/bin/python3 -c 'import nio, olm' 2>/dev/null || need+=(python3-matrix-nio python3-olm)
command -v node     >/dev/null 2>&1 || need+=(nodejs)
# NodeSource's nodejs bundles npm (and conflicts with Debian's npm package).
command -v npm      >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "test-deps: installing ${need[*]}" >&2
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# matrix-js-sdk 37 needs Node >= 20: Debian 13 (trixie) ships it; on Debian 12
# install nodejs 20+ (e.g. from NodeSource). With an older Node the js-sdk
# interop tests fail with this same explanation; everything else still runs.
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "test-deps: Node.js $(node --version 2>/dev/null || echo missing) is too old for the matrix-js-sdk peer (needs >= 20): its tests will fail" >&2
else
  # The js-sdk peer's packages, exact versions, cached by lockfile hash.
  "$(dirname "${BASH_SOURCE[0]}")/install-jssdk.sh" >/dev/null
fi
