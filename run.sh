#!/usr/bin/env bash
# Install what is missing, build, and start veldd with its default data
# directory (./veld-data, created on first start) on 127.0.0.1:8787.
# Extra arguments go to `veldd serve` (for example --listen, --data).
set -euo pipefail
cd "$(dirname "$0")"
deploy/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target veldd veld
exec build/server/veldd serve "$@"
