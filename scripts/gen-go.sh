#!/bin/sh
# Regenerates examples/go/gen/ (the Go example's stubs) from proto/ with buf.gen.go.yaml.
#
#   scripts/gen-go.sh                  installs the pinned Go plugins if needed (needs Go), then generates
#   scripts/gen-go.sh --if-installed   generates only if the plugins are installed; else says so and
#                                      exits 0 (what `npm run gen` does, so it works with Node alone)
set -eu
cd "$(dirname "$0")/.."
if [ "${1:-}" = --if-installed ]; then
  if ! sh scripts/clients/install.sh --installed go-plugins; then
    echo "gen: skipped examples/go/gen/ (the Go plugins are not installed; 'npm run gen:go' installs them and generates it)"
    exit 0
  fi
else
  sh scripts/clients/install.sh go-plugins
fi
node_modules/.bin/buf generate --template buf.gen.go.yaml
echo "gen: wrote examples/go/gen/"
