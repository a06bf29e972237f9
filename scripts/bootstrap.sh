#!/usr/bin/env bash
# Runs a command with what the project needs in place: Node >= 22 (npm's
# `node` package when the system Node is older) and the npm dependencies of
# package-lock.json. Everything lands inside the project, and a second run
# only checks stamps, so it is fast.
#
# usage: bash scripts/bootstrap.sh COMMAND [ARGS...]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_pin="22.23.3"
tools="$root/.tools"

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(node_major node)" -lt 22 ]; then
  local_node="$tools/node/node_modules/node/bin/node"
  if [ ! -x "$local_node" ] || [ "$(node_major "$local_node")" -lt 22 ]; then
    echo "conclave: system Node is $(node --version 2>/dev/null || echo missing); installing Node $node_pin into .tools/node" >&2
    mkdir -p "$tools/node"
    npm install --prefix "$tools/node" --no-save --no-audit --no-fund --loglevel=error "node@$node_pin" >&2
  fi
  export PATH="$tools/node/node_modules/node/bin:$PATH"
fi

# Reinstall only when the lock file changed since the last install.
stamp="$root/node_modules/.conclave-install-stamp"
want="$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "conclave: installing npm dependencies" >&2
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$want" >"$stamp"
fi

export PATH="$root/node_modules/.bin:$PATH"
cd "$root"
exec "$@"
