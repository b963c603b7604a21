#!/usr/bin/env bash
# Builds the demo server into OUTPUT_DIR: libleakcom.so and demo-server (linked with an rpath to it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTPUT_DIR}
mkdir -p "$out"
cc -g -O1 -fPIC -shared -o "$out/libleakcom.so" "$here/leakcom.c"
cc -g -O1 -o "$out/demo-server" "$here/server.c" -L"$out" -lleakcom -Wl,-rpath,'$ORIGIN'
