#!/usr/bin/env bash
# Writes the FileDescriptorSet that server reflection serves: every file under proto/ with its
# imports (google/protobuf/*.proto included), as buf compiles them, plus grpc.health.v1 from
# grpc-health-check under its canonical name grpc/health/v1/health.proto. Source info is kept
# so reflection clients show the .proto comments. Usage: build-descriptor-set.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-server/rpc/gen/descriptor-set.binpb}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
npx buf build -o "$scratch/api.binpb"
health_proto=$(node -p "require('grpc-health-check').protoPath")
mkdir -p "$scratch/health/grpc/health/v1"
cp "$health_proto" "$scratch/health/grpc/health/v1/health.proto"
npx buf build "$scratch/health" -o "$scratch/health.binpb"
mkdir -p "$(dirname "$out")"
# Two serialized FileDescriptorSets concatenated are one set holding both files lists.
cat "$scratch/api.binpb" "$scratch/health.binpb" >"$out"
