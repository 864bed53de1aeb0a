#!/bin/sh
# Fails when generated code is not exactly what the generators would write from the
# current protos. Regenerates into a temp dir, so the working tree is never touched.
#
#   scripts/check-generated.sh        src/generated/ (ts-proto) and src/descriptors/procworker.binpb
#                                     (the descriptor set reflection serves); then examples/go/gen/
#                                     if the Go plugins are installed, else says why it skips it
#   scripts/check-generated.sh --go   examples/go/gen/ only, and a missing plugin is an error
#                                     (npm run test:clients installs the plugins first)
set -eu
cd "$(dirname "$0")/.."
buf=node_modules/.bin/buf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

check_ts() {
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
}

check_go() {
  "$buf" generate --template buf.gen.go.yaml -o "$tmp"
  if ! diff -r examples/go/gen "$tmp/examples/go/gen"; then
    echo "check:generated: examples/go/gen/ is stale or hand-edited; run 'npm run gen:go' and commit the result" >&2
    exit 1
  fi
  echo "check:generated: examples/go/gen/ matches the protos"
}

if [ "${1:-}" = --go ]; then
  sh scripts/clients/install.sh --installed go-plugins || {
    echo "check:generated: the Go plugins are not installed at the pinned versions: run 'sh scripts/clients/install.sh go-plugins'" >&2
    exit 1
  }
  check_go
  exit
fi

check_ts
if sh scripts/clients/install.sh --installed go-plugins; then
  check_go
else
  echo "check:generated: skipped examples/go/gen/: protoc-gen-go and protoc-gen-go-grpc are not in .cache/clients/bin/ at"
  echo "  the versions examples/go/go.mod pins (they need Go; 'npm run test:clients' installs them and checks it)"
fi
