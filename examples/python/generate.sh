#!/bin/sh
# Generates the Python modules for procworker's API from proto/ (the same protos the
# TypeScript server is generated from):
#
#   OUT/procworker/v1/{types,process_worker_service}_pb2.py       messages (protoc)
#   OUT/procworker/v1/{types,process_worker_service}_pb2.pyi      type hints for them (protoc)
#   OUT/procworker/v1/process_worker_service_pb2_grpc.py          the service stub (grpc_python_plugin)
#
# Usage: examples/python/generate.sh [OUT]     (OUT defaults to examples/python/gen, gitignored)
#
# Uses Debian's protoc and gRPC's C++-built Python plugin, not grpcio-tools: Debian's
# python3-grpc-tools bundles an older protoc that rejects proto3 `optional`.
# PROTOC and GRPC_PYTHON_PLUGIN override where the two tools are found.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-"$here/gen"}

missing() {
  echo "generate.sh: $1 not found." >&2
  echo "  On Debian/Ubuntu: apt-get install -y protobuf-compiler protobuf-compiler-grpc python3-grpcio" >&2
  echo "  (or set PROTOC / GRPC_PYTHON_PLUGIN to the tools' paths)" >&2
  exit 1
}

protoc=${PROTOC:-$(command -v protoc || true)}
[ -n "$protoc" ] && [ -x "$protoc" ] || missing "protoc (package protobuf-compiler)"
plugin=${GRPC_PYTHON_PLUGIN:-$(command -v grpc_python_plugin || true)}
[ -n "$plugin" ] && [ -x "$plugin" ] || missing "grpc_python_plugin (package protobuf-compiler-grpc)"

# proto3 `optional` (used for slots) needs protoc 3.15 or later.
version=$("$protoc" --version | sed -n 's/^libprotoc \([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1 \2/p')
set -- $version
if [ $# -ne 2 ] || { [ "$1" -eq 3 ] && [ "$2" -lt 15 ]; } || [ "$1" -lt 3 ]; then
  echo "generate.sh: $("$protoc" --version) is too old; proto3 optional fields need protoc 3.15 or later" >&2
  exit 1
fi

# Like `buf generate` with `clean: true`: a removed proto also removes its module.
rm -rf "$out/procworker"
mkdir -p "$out"

cd "$root/proto"
"$protoc" -I . \
  --python_out="$out" --pyi_out="$out" \
  --plugin=protoc-gen-grpc_python="$plugin" --grpc_python_out="$out" \
  procworker/v1/*.proto

# Regular packages, so the first `procworker` on sys.path wins whole (no namespace merging).
touch "$out/procworker/__init__.py" "$out/procworker/v1/__init__.py"

echo "generate.sh: wrote $(cd "$out" && find procworker -name '*.py*' | sort | tr '\n' ' ')into $out"
