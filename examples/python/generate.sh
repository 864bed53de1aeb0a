#!/bin/sh
# Generates the Python modules for procworker's API from proto/ (the same protos the
# TypeScript server is generated from), with grpcio-tools (its bundled protoc and gRPC
# Python plugin):
#
#   OUT/procworker/v1/{types,process_worker_service}_pb2.py       messages
#   OUT/procworker/v1/{types,process_worker_service}_pb2.pyi      type hints for them
#   OUT/procworker/v1/process_worker_service_pb2_grpc.py          the service stub
#
# Usage: [PYTHON=…] examples/python/generate.sh [OUT]   (OUT defaults to examples/python/gen, gitignored)
#
# PYTHON is an interpreter that has requirements.txt installed (default: python3), e.g. a
# venv's .venv/bin/python; `npm run test:clients` uses .cache/clients/python/bin/python.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-"$here/gen"}
python=${PYTHON:-python3}
# A relative path stays valid after the `cd` below (keep the venv's own bin/python name).
case "$python" in */*) python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")" ;; esac

if ! "$python" -c "import grpc_tools.protoc" 2>/dev/null; then
  echo "generate.sh: $python cannot import grpc_tools (package grpcio-tools). In a virtual environment:" >&2
  echo "  python3 -m venv .venv && .venv/bin/pip install -r examples/python/requirements.txt" >&2
  echo "  PYTHON=.venv/bin/python examples/python/generate.sh" >&2
  exit 1
fi

# proto3 `optional` (used for slots) needs protoc 3.15 or later; grpcio-tools bundles its
# own protoc, and old releases (Debian's python3-grpc-tools among them) bundle an older one.
version=$("$python" -m grpc_tools.protoc --version | sed -n 's/^libprotoc \([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1 \2/p')
set -- $version
if [ $# -ne 2 ] || { [ "$1" -eq 3 ] && [ "$2" -lt 15 ]; } || [ "$1" -lt 3 ]; then
  echo "generate.sh: grpcio-tools bundles $("$python" -m grpc_tools.protoc --version); proto3 optional fields need" >&2
  echo "  protoc 3.15 or later: pip install -r examples/python/requirements.txt" >&2
  exit 1
fi

# Like `buf generate` with `clean: true`: a removed proto also removes its module.
rm -rf "$out/procworker"
mkdir -p "$out"

cd "$root/proto"
"$python" -m grpc_tools.protoc -I . \
  --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
  procworker/v1/*.proto

# Regular packages, so the first `procworker` on sys.path wins whole (no namespace merging).
touch "$out/procworker/__init__.py" "$out/procworker/v1/__init__.py"

echo "generate.sh: wrote $(cd "$out" && find procworker -name '*.py*' | sort | tr '\n' ' ')into $out"
