#!/bin/sh
# synapse-register (docker/compose.yaml): registers the bot's account with
# the homeserver's shared secret; an account that already exists is fine.
# The defaults are compose's; test/deploy runs this against a real Synapse.
set -eu
exec register_new_matrix_user \
  --config "${SYNAPSE_CONFIG:-/data/homeserver.yaml}" \
  --user "${BOT_LOCALPART:-conclave}" \
  --password-file "${BOT_PASSWORD_FILE:-/run/secrets/bot_password}" \
  --no-admin --exists-ok \
  "${SYNAPSE_URL:-http://synapse:8008}"
