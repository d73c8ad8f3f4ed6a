#!/usr/bin/env bash
# Regenerates test/core/fma64-glibc.json from this machine's C fma() (see generate.c).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
cc -O1 -std=c11 -o "$out/generate" scripts/fma64-glibc/generate.c -lm
"$out/generate" > test/core/fma64-glibc.json
rm -rf "$out"
