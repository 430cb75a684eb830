#!/usr/bin/env bash
# The browser tests drive Debian's chromium (Playwright never downloads one: the isolated network
# has nowhere to fetch it from). Installs it with CJK fonts when missing; idempotent.
set -euo pipefail
CHROMIUM="${ZHIHUI_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
      echo "error: $CHROMIUM is missing and this user cannot install it (apt-get install chromium fonts-noto-cjk)" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
fi
"$CHROMIUM" --version >&2
