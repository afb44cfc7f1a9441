#!/usr/bin/env bash
# Fails when client/gen or the descriptor set that reflection serves (server/rpc/gen) differs
# from what the .proto files generate (someone edited generated output by hand, or changed a
# .proto without running `npm run gen`), and when buf lint fails.
set -euo pipefail
cd "$(dirname "$0")/.."
npx buf lint
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
npx buf generate -o "$scratch"
if ! diff -r "$scratch/client/gen" client/gen >"$scratch/diff.txt"; then
  echo "client/gen is out of date with proto/: run 'npm run gen' and commit the result" >&2
  head -50 "$scratch/diff.txt" >&2
  exit 1
fi
bash scripts/build-descriptor-set.sh "$scratch/descriptor-set.binpb"
if ! cmp -s "$scratch/descriptor-set.binpb" server/rpc/gen/descriptor-set.binpb; then
  echo "server/rpc/gen/descriptor-set.binpb is out of date with proto/: run 'npm run gen' and commit the result" >&2
  exit 1
fi
echo "generated code matches proto/"
