#!/usr/bin/env bash
# Installs what floe needs, builds it and runs everything that checks it:
#   1. the test suite, twice: with the io_uring event loop and with the epoll fallback
#      (FLOE_DISABLE_IO_URING=1) that machines without io_uring get;
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/);
#   3. the same under ThreadSanitizer (build-tsan/);
#   4. the libFuzzer target feeding a peer's garbage into the receive path, for 30 s (build-fuzz/);
#   5. the comparison benchmarks in quick mode (scripts/bench.sh --quick), their JSON checked
#      against the schema docs/BENCHMARKS.md is made from; no timing is asserted.
# FLOE_TEST_QUICK=1 runs stage 1 only (for a developer's edit-test loop; CI runs all).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --test
# Stage 1's build tree also builds the comparison benchmarks that stage 5 runs, so their peers
# (iceoryx, ZeroMQ, gRPC) are installed before it is configured.
bash scripts/install-deps.sh --bench
build=${FLOE_BUILD_DIR:-build}
jobs=$(nproc)
# Tests that build, install or compile things run once, in stage 1.
no_build_tests='^(Install|CompileFail|Docs)\.'

suite() {  # suite BUILD_DIR [ctest args...]: both event loops
  local dir=$1
  shift
  echo "== $dir: test suite, io_uring event loop"
  (cd "$dir" && ctest -j "$jobs" --output-on-failure --timeout 300 "$@")
  echo "== $dir: test suite, epoll event loop (FLOE_DISABLE_IO_URING=1)"
  (cd "$dir" && FLOE_DISABLE_IO_URING=1 ctest -j "$jobs" --output-on-failure --timeout 300 \
    -E "$no_build_tests")
}

# Debug information is line tables only (-g1), in every stage: enough for backtraces and the
# sanitizers' reports, and a third less compile time than -g.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DFLOE_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j "$jobs"
if [ "${FLOE_TEST_QUICK:-0}" = 1 ]; then
  suite "$build"
  exit 0
fi

# Each later stage's tree is built while the stage before runs its suites, at the lowest
# priority: the suites spend much of their time waiting on their child processes, and the build
# takes only the CPU they leave. Its output is shown when it is done (all of it if it failed).
build_pid=
trap '[ -n "$build_pid" ] && kill "$build_pid" 2>/dev/null; true' EXIT
build_behind() {  # build_behind DIR [cmake --build args...]
  local dir=$1
  shift
  nice -n 19 cmake --build "$dir" -j "$jobs" "$@" >"$dir.log" 2>&1 &
  build_pid=$!
}
built() {  # built DIR: waits for build_behind's build of DIR
  local dir=$1
  if ! wait "$build_pid"; then
    cat "$dir.log"
    echo "== the build of $dir failed" >&2
    exit 1
  fi
  build_pid=
  echo "== $dir built"
  tail -n 2 "$dir.log"
}

# The Python package is left out: a sanitized module cannot load into an unsanitized python3.
# floe-gateway's tests run in stage 1 only: gRPC's libraries are not built with the sanitizers,
# so ThreadSanitizer cannot see their synchronization and LeakSanitizer their exit.
only_tests=(-DFLOE_BUILD_TESTS=ON -DFLOE_BUILD_EXAMPLES=OFF -DFLOE_BUILD_BENCHMARKS=OFF
  -DFLOE_BUILD_PYTHON=OFF -DFLOE_BUILD_GATEWAY=OFF)
# ASan+UBSan compile at -O0, TSan at -O1: UBSan's checks make GCC's optimizer slow (a test file
# takes 1.6x as long at -O1 as at -O0), and the suites wait on processes more than they compute.
# Without optimization GCC 12's flow analysis misfires -Wmaybe-uninitialized on Asio's use_future
# internals; stage 1 (-O2) keeps that warning on for every line of floe.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=None "${only_tests[@]}" \
  -DCMAKE_CXX_FLAGS="-O0 -g1 -Wno-maybe-uninitialized -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
  >/dev/null
build_behind build-asan
suite "$build"
built build-asan

# GCC warns that TSan does not model atomic_thread_fence, which Asio's handlers use; floe's own
# fences are replaced by read-modify-writes under TSan (src/shm/doorbell.hpp).
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=None "${only_tests[@]}" \
  -DCMAKE_CXX_FLAGS="-O1 -g1 -Wno-maybe-uninitialized -fsanitize=thread -Wno-tsan" >/dev/null
build_behind build-tsan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  suite build-asan -E "$no_build_tests"
built build-tsan

cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=None \
  -DFLOE_BUILD_TESTS=OFF -DFLOE_BUILD_EXAMPLES=OFF -DFLOE_BUILD_BENCHMARKS=OFF \
  -DFLOE_BUILD_TOOLS=OFF -DFLOE_BUILD_FUZZERS=ON -DCMAKE_CXX_FLAGS="-O1 -g1 -fsanitize=fuzzer-no-link,address" >/dev/null
build_behind build-fuzz --target hostile_segment_fuzzer
TSAN_OPTIONS=halt_on_error=1 suite build-tsan -E "$no_build_tests"
built build-fuzz

echo "== libFuzzer: a peer's garbage in the shared segment, 30 s"
mkdir -p build-fuzz/corpus
build-fuzz/tests/fuzz/hostile_segment_fuzzer -max_total_time=30 -print_final_stats=1 \
  build-fuzz/corpus 2>&1 | grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|Done)"
echo "== comparison benchmarks, quick mode (results checked for shape, not speed)"
FLOE_BENCH_BUILD_DIR="$build" bash scripts/bench.sh --quick --out "$build/bench-results" --no-docs
python3 bench/check_results.py "$build"/bench-results/{pinned,unpinned,one-core}.json
echo "== all stages passed"
