#!/bin/sh
# Fails when src/generated/ is not exactly what `npm run gen` would write from the
# current protos (ts-proto output and the descriptor set). Regenerates into a temp dir,
# so the working tree is never touched.
set -eu
cd "$(dirname "$0")/.."
buf=node_modules/.bin/buf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

"$buf" generate -o "$tmp"
mkdir -p "$tmp/src/generated"
"$buf" build -o "$tmp/src/generated/procworker.binpb"

if ! diff -r src/generated "$tmp/src/generated"; then
  echo "check:generated: src/generated/ is stale or hand-edited; run 'npm run gen' and commit the result" >&2
  exit 1
fi
echo "check:generated: src/generated/ matches the protos"
