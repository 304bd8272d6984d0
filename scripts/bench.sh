#!/usr/bin/env bash
# Measures floe against its floors (raw cache-line, futex and eventfd ping-pongs) and its peers
# (Asio sockets, ZeroMQ, gRPC, iceoryx) and writes docs/BENCHMARKS.md with its plots:
#   1. installs the packages the comparison needs (scripts/install-deps.sh --bench);
#   2. builds floe_bench_suite, Release, in build-bench/ (FLOE_BENCH_BUILD_DIR names another
#      tree: one already configured is built as it is, so CI can reuse its own);
#   3. runs the suite once per placement of client and server: pinned to a core each (every
#      row), unpinned and both on one core (floe's and the floors' round trips only; on one core
#      not the polling ones, which would only measure the scheduler's time slice). Three
#      repetitions of every row (one with --quick), as three passes over all rows, each in its
#      own random order, so drift of a shared machine hits every row alike; the passes' JSON is
#      merged (bench/merge_passes.py) into bench/results/<placement>.json. After each pass of the
#      pinned placement, the Python rows (bench/python/round_trip.py: a Python client and server
#      over floe's binding, and the standard library's ways) join that pass's JSON; they need
#      the package floe (target floe_python), and without it are recorded as not installed;
#   4. bench/report.py turns that JSON into docs/BENCHMARKS.md and docs/bench-*.png, and prints
#      the targets, met or not. A missed target does not fail the script; a suite that crashes
#      does.
# Options:
#   --quick    a twentieth of the samples of every row (FLOE_BENCH_QUICK=1), one repetition
#   --out DIR  the JSON goes to DIR instead of bench/results
#   --no-docs  the report and its plots go to the JSON's directory, not to docs/ (for CI: the
#              clone is left as it was)
# FLOE_BENCH_REPETITIONS overrides the number of repetitions.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
out=bench/results
docs=docs
no_docs=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --out)
      [ $# -ge 2 ] || { echo "--out needs a directory" >&2; exit 2; }
      out=$2
      shift
      ;;
    --no-docs) no_docs=1 ;;
    *)
      echo "usage: $0 [--quick] [--out DIR] [--no-docs]" >&2
      exit 2
      ;;
  esac
  shift
done
[ "$no_docs" = 1 ] && docs=$out

bash scripts/install-deps.sh --bench

build=${FLOE_BENCH_BUILD_DIR:-build-bench}
if [ -z "${FLOE_BENCH_BUILD_DIR:-}" ] || [ ! -f "$build/CMakeCache.txt" ]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFLOE_BUILD_BENCHMARKS=ON \
    -DFLOE_BUILD_TESTS=OFF -DFLOE_BUILD_EXAMPLES=OFF -DFLOE_BUILD_TOOLS=OFF "${launcher[@]}" \
    >/dev/null
fi
# The Python rows need the binding, built where the tree has it (FLOE_BUILD_PYTHON, on by default
# where python3-dev and pybind11-dev are installed).
targets=(floe_bench_suite)
python_package=
if grep -q '^FLOE_BUILD_PYTHON:BOOL=ON' "$build/CMakeCache.txt"; then
  targets+=(floe_python)
  python_package=$(realpath -m "$build/python")
else
  echo "note: $build has no Python package (FLOE_BUILD_PYTHON=OFF): the Python rows are" \
    "recorded as not installed" >&2
fi
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"
suite=$build/bench/floe_bench_suite
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")

commit=unknown
if git rev-parse --git-dir >/dev/null 2>&1; then
  commit=$(git rev-parse --short=12 HEAD)
  # What this script writes does not count as a change.
  git diff --quiet HEAD -- . ':!docs/BENCHMARKS.md' ':!docs/bench-*.png' ':!bench/results' ||
    commit="$commit-dirty"
fi

# Google Benchmark matches a filter against the whole run name, which goes on after the row's
# name ("/iterations:N/manual_time"): a mode is followed by "/" or nothing. The other placements
# run the round trips of floe and of the floors only: enough to see what placement does to floe,
# at a fraction of the time.
all_rows='.'
floe_round_trips='^round_trip/(raw [^/]+|floe)/'
modes_not_polling='(asleep|blocking|default_spin|asio|co_await|async)'
floe_round_trips_not_polling="$floe_round_trips$modes_not_polling(/|\$)"

# What the report says about the machine, recorded with the results (commas would split the
# flag's list).
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1 | tr -d ',=')
kernel=$(uname -r | tr -d ',=')
context="build_type=${build_type:-unknown},kernel=$kernel,cpu_model=${cpu_model:-unknown}"

# System calls per message are counted through the tracepoint raw_syscalls:sys_enter, which
# tracefs names; mounted here if it is not and we may (without it the rows count nothing and the
# report says why).
if [ ! -e /sys/kernel/tracing/events/raw_syscalls ] &&
  [ ! -e /sys/kernel/debug/tracing/events/raw_syscalls ] && [ -d /sys/kernel/tracing ] &&
  ! mountpoint -q /sys/kernel/tracing && [ "$(id -u)" = 0 ]; then
  mount -t tracefs nodev /sys/kernel/tracing ||
    echo "tracefs could not be mounted: no system calls per message" >&2
fi

# Debian's matplotlib is for Debian's python3, which another python3 on the PATH may hide.
python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3

mkdir -p "$out"
rm -f "$out"/{pinned,unpinned,one-core}*.json
# Three repetitions, interleaved, to see drift; a quick run has one.
repetitions=${FLOE_BENCH_REPETITIONS:-$([ "$quick" = 1 ] && echo 1 || echo 3)}
export FLOE_BENCH_QUICK=$quick FLOE_BENCH_COMMIT=$commit
run() {  # run PLACEMENT FILTER
  echo "== floe_bench_suite, placement $1 ($([ "$quick" = 1 ] && echo quick || echo full))"
  local start=$SECONDS pass passes=()
  # One pass per repetition (see bench/merge_passes.py for why not --benchmark_repetitions).
  for pass in $(seq 1 "$repetitions"); do
    FLOE_BENCH_PLACEMENT=$1 "$suite" --benchmark_filter="$2" \
      --benchmark_enable_random_interleaving=true \
      --benchmark_out="$out/$1.pass$pass.json" --benchmark_out_format=json \
      --benchmark_context="$context" --benchmark_color=false || {
      echo "floe_bench_suite failed in placement $1, pass $pass (exit $?)" >&2
      exit 1
    }
    if [ "$1" = pinned ]; then
      FLOE_BENCH_PLACEMENT=$1 PYTHONPATH=$python_package "$python" bench/python/round_trip.py \
        --json "$out/$1.pass$pass.json" --filter "$2" || {
        echo "bench/python/round_trip.py failed in placement $1, pass $pass (exit $?)" >&2
        exit 1
      }
    fi
    passes+=("$out/$1.pass$pass.json")
  done
  "$python" bench/merge_passes.py "$out/$1.json" "${passes[@]}"
  rm -f "${passes[@]}"
  echo "   $((SECONDS - start)) s, $out/$1.json"
}
start=$SECONDS
run pinned "$all_rows"
run unpinned "$floe_round_trips"
run one-core "$floe_round_trips_not_polling"
echo "== all placements: $((SECONDS - start)) s"

"$python" bench/report.py --docs "$docs" "$out"/{pinned,unpinned,one-core}.json
