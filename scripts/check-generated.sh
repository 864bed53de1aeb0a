#!/bin/sh
# Fails when src/generated/ (ts-proto output) or src/descriptors/procworker.binpb (the
# descriptor set reflection serves) is not exactly what `npm run gen` would write from the
# current protos. Regenerates into a temp dir, so the working tree is never touched.
set -eu
cd "$(dirname "$0")/.."
buf=node_modules/.bin/buf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

"$buf" generate -o "$tmp"
mkdir -p "$tmp/src/descriptors"
"$buf" build -o "$tmp/src/descriptors/procworker.binpb"

status=0
diff -r src/generated "$tmp/src/generated" || status=1
cmp src/descriptors/procworker.binpb "$tmp/src/descriptors/procworker.binpb" || status=1
if [ "$status" -ne 0 ]; then
  echo "check:generated: generated code is stale or hand-edited; run 'npm run gen' and commit the result" >&2
  exit 1
fi
echo "check:generated: src/generated/ and src/descriptors/ match the protos"
