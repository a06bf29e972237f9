#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed: the browser tests drive it
# through playwright-core (test/browser). Quiet and idempotent, like
# scripts/postgres-install.sh: nothing happens when /usr/bin/chromium is
# there; otherwise, as root, `apt-get install -y chromium` (after
# `apt-get update` if the package lists are stale), and a loud failure when
# not root.
#
# usage: bash scripts/chromium-install.sh
set -euo pipefail

[ -x /usr/bin/chromium ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "conclave: Chromium is not installed, and the browser tests need it." >&2
  echo "conclave: as root: apt-get install -y chromium" >&2
  exit 1
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
install() { apt-get install -y -qq --no-install-recommends chromium >>"$log" 2>&1; }
echo "conclave: installing Chromium (apt-get install -y chromium)" >&2
if ! install; then
  if ! { apt-get update -qq >>"$log" 2>&1 && install; }; then
    echo "conclave: apt-get install chromium failed:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "conclave: chromium installed, but there is no /usr/bin/chromium" >&2
  exit 1
fi
