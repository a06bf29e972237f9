#!/bin/sh
# synapse-register (docker/compose.yaml): registers @conclave:localhost with
# the homeserver's shared secret. An account that already exists is fine.
set -eu
if out="$(register_new_matrix_user --config /data/homeserver.yaml --user conclave \
  --password-file /run/secrets/bot_password --no-admin http://synapse:8008 2>&1)"; then
  echo "$out"
elif echo "$out" | grep -q "User ID already taken"; then
  echo "the bot's account exists"
else
  echo "$out" >&2
  exit 1
fi
