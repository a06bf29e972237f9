#!/usr/bin/env bash
# Makes sure a PostgreSQL server (Debian's `postgresql`) is installed: the
# store tests start a throwaway one of their own (scripts/postgres.ts).
# Quiet and idempotent: nothing happens when the server binaries are there;
# otherwise, as root, `apt-get install -y postgresql` (after `apt-get update`
# if the package lists are stale), and a loud failure when not root.
#
# CONCLAVE_PG_BINDIR may name a directory holding initdb and postgres
# (another installation); it is then used as it is.
#
# usage: bash scripts/postgres-install.sh
set -euo pipefail

have_server() {
  if [ -n "${CONCLAVE_PG_BINDIR:-}" ]; then
    [ -x "$CONCLAVE_PG_BINDIR/initdb" ] && [ -x "$CONCLAVE_PG_BINDIR/postgres" ]
  else
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
  fi
}

have_server && exit 0

if [ -n "${CONCLAVE_PG_BINDIR:-}" ]; then
  echo "conclave: CONCLAVE_PG_BINDIR=$CONCLAVE_PG_BINDIR has no initdb and postgres" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "conclave: the PostgreSQL server is not installed, and the tests need it." >&2
  echo "conclave: as root: apt-get install -y postgresql (or set CONCLAVE_PG_BINDIR)" >&2
  exit 1
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
install() { apt-get install -y -qq --no-install-recommends postgresql >>"$log" 2>&1; }
echo "conclave: installing PostgreSQL (apt-get install -y postgresql)" >&2
if ! install; then
  # A fresh machine may have no package lists yet, or stale ones.
  if ! { apt-get update -qq >>"$log" 2>&1 && install; }; then
    echo "conclave: apt-get install postgresql failed:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
fi
if ! have_server; then
  echo "conclave: postgresql installed, but no /usr/lib/postgresql/*/bin/initdb" >&2
  exit 1
fi
