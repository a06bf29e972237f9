#!/bin/sh
# synapse-init (docker/compose.yaml): on the first start only, generate the
# homeserver's config and keys, then append Conclave's settings.
set -eu
if [ -f /data/homeserver.yaml ]; then
  exit 0
fi
/start.py generate
cat /conclave/homeserver-conclave.yaml >>/data/homeserver.yaml
