#!/usr/bin/env bash
# Installs what floe needs, builds the examples and runs them as separate processes, several
# clients and servers at once; everything ends by itself.
#   1. request_response: 2 servers, 2 clients. Each request reaches both servers; each answers
#      with a response by copy and then a stream of loaned responses.
#   2. streaming: 2 servers, 2 clients, each client consuming 2 x 1,000,000 numbers with co_await.
#   3. asio: an Asio server answering the request_response client, and an Asio client
#      consuming a stream of the streaming server, each in one io_context thread.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
build=${FLOE_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target request_response_server request_response_client \
  streaming_server streaming_client asio_server asio_client

# run_example NAME "SERVER ARGS" "CLIENT ARGS": two servers, then two clients; fails if a
# client fails.
run_example() {
  local name=$1 server_args=$2 client_args=$3 servers=() clients=() status=0
  echo "== $name: 2 servers, 2 clients"
  for s in 1 2; do
    # shellcheck disable=SC2086
    ("$build/examples/${name}_server" $server_args | sed -u "s/^/[server $s] /") &
    servers+=($!)
  done
  sleep 0.5
  for c in 1 2; do
    # shellcheck disable=SC2086
    ("$build/examples/${name}_client" $client_args | sed -u "s/^/[client $c] /") &
    clients+=($!)
  done
  for pid in "${clients[@]}"; do wait "$pid" || status=1; done
  for pid in "${servers[@]}"; do wait "$pid" || status=1; done
  return $status
}

# pair SERVER "SERVER ARGS" CLIENT "CLIENT ARGS": one of each, mixing Asio and floe::Runtime.
pair() {
  local server_pid status=0
  echo "== $1 with $3"
  # shellcheck disable=SC2086
  ("$build/examples/$1" $2 | sed -u "s/^/[$1] /") &
  server_pid=$!
  sleep 0.5
  # shellcheck disable=SC2086
  "$build/examples/$3" $4 | sed -u "s/^/[$3] /" || status=1
  wait "$server_pid" || status=1
  return $status
}

run_example request_response "--seconds 5" "--seconds 3"
run_example streaming "--seconds 8" "--count 1000000"
pair asio_server "--seconds 3" request_response_client "--seconds 2"
pair streaming_server "--seconds 3" asio_client "--count 200000"
