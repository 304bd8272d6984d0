#!/usr/bin/env bash
# Installs what floe needs, builds the request-response example, and runs its server and client
# as two processes; both end by themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
build=${FLOE_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target request_response_server request_response_client

("$build/examples/request_response_server" --seconds 5 | sed -u 's/^/[server] /') &
server=$!
sleep 0.5
"$build/examples/request_response_client" --seconds 3 | sed -u 's/^/[client] /'
wait "$server"
