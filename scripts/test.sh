#!/usr/bin/env bash
# Installs what floe needs, builds it with its tests, and runs the whole suite twice: once with
# the io_uring event loop, once with the epoll fallback that machines without io_uring get.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
build=${FLOE_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLOE_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
cd "$build"
echo "== test suite, io_uring event loop"
ctest -j "$(nproc)" --output-on-failure --timeout 300
echo "== test suite, epoll event loop (FLOE_DISABLE_IO_URING=1)"
FLOE_DISABLE_IO_URING=1 ctest -j "$(nproc)" --output-on-failure --timeout 300 -E '^(Install|CompileFail)\.'
