#!/usr/bin/env bash
# Installs what floe needs, builds the examples and runs them as separate processes, several
# clients and servers at once; everything ends by itself.
#   1. request_response: 2 servers, 2 clients. Each request reaches both servers; each answers
#      with a response by copy and then a stream of loaned responses.
#   2. streaming: 2 servers, 2 clients, each client consuming 2 x 1,000,000 numbers with co_await.
#   3. asio: an Asio server answering the request_response client, and an Asio client
#      consuming a stream of the streaming server, each in one io_context thread.
#   4. request_response across languages: 2 C++ servers answering the synchronous and the
#      asyncio Python client, then 2 Python servers (synchronous and asyncio) answering 2 C++
#      clients; the Python package is imported from the build tree.
#   5. complex_types: orders with a name and a list (floe::FixedString, floe::FixedVector),
#      one of them refused for too many items before it is sent.
#   6. dynamic_data: 2 servers, 2 clients exchanging slices: requests of 0 to 16 KiB written in
#      place, answered by streams of responses of varying length; a request one byte longer
#      than the service's maximum is refused before it is sent.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --python
build=${FLOE_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLOE_BUILD_PYTHON=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target request_response_server request_response_client \
  streaming_server streaming_client asio_server asio_client complex_types_server \
  complex_types_client dynamic_data_server dynamic_data_client floe_python
# The interpreter the package was built for, importing it from the build tree.
python=$(sed -n 's/^_\?Python_EXECUTABLE:[A-Z]*=//p' "$build/CMakeCache.txt" | head -n 1)
PYTHONPATH=$(cd "$build/python" && pwd)
export PYTHONPATH PYTHONUNBUFFERED=1  # unbuffered: each line shows when it is printed

# run_group TITLE LABEL COMMAND LABEL COMMAND ...: two servers (the first two commands), then the
# clients half a second later, each command's lines prefixed with its label; fails if any fails.
run_group() {
  local title=$1 pids=() status=0 started=0
  shift
  echo "== $title"
  while [ $# -gt 0 ]; do
    [ $started -eq 2 ] && sleep 0.5
    # shellcheck disable=SC2086
    ($2 | sed -u "s/^/[$1] /") &
    pids+=($!)
    started=$((started + 1))
    shift 2
  done
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  return $status
}

# run_example NAME "SERVER ARGS" "CLIENT ARGS": two servers, then two clients.
run_example() {
  local program=$build/examples/$1
  run_group "$1: 2 servers, 2 clients" "server 1" "${program}_server $2" "server 2" \
    "${program}_server $2" "client 1" "${program}_client $3" "client 2" "${program}_client $3"
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

examples=$build/examples
python_examples="$python examples/python/request_response"
run_group "request_response: 2 C++ servers, 2 Python clients (synchronous and asyncio)" \
  "C++ server 1" "$examples/request_response_server --seconds 5" \
  "C++ server 2" "$examples/request_response_server --seconds 5" \
  "client.py" "$python_examples/client.py --seconds 3" \
  "client_async.py" "$python_examples/client_async.py --seconds 3"
run_group "request_response: 2 Python servers (synchronous and asyncio), 2 C++ clients" \
  "server.py" "$python_examples/server.py --seconds 5" \
  "server_async.py" "$python_examples/server_async.py --seconds 5" \
  "C++ client 1" "$examples/request_response_client --seconds 3" \
  "C++ client 2" "$examples/request_response_client --seconds 3"
pair complex_types_server "--seconds 3" complex_types_client ""
run_example dynamic_data "--seconds 5" ""
