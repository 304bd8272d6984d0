#!/usr/bin/env python3
"""Merges the JSON of several passes of floe_bench_suite over the same rows into one file, as if
Google Benchmark had run the repetitions itself: each pass's runs become repetition i of n.

    merge_passes.py OUT PASS.json...

scripts/bench.sh runs its repetitions as separate passes, not with --benchmark_repetitions,
because Google Benchmark aborts the whole suite (a failed check in ComputeStats) when one
repetition of a row fails and another does not: a flaky peer would cost every figure of the run.
A pass here that fails a row records it as a failed repetition, which bench/report.py reports.
The context is the first pass's, plus load_avg_passes: each pass's load average at its start (a
shared machine's load changes during a run); aggregate runs (there are none with one repetition)
are dropped.
"""

import json
import sys


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out, passes = sys.argv[1], sys.argv[2:]
    merged = None
    for index, path in enumerate(passes):
        with open(path) as file:
            data = json.load(file)
        runs = [run for run in data["benchmarks"] if run.get("run_type") != "aggregate"]
        for run in runs:
            run["repetition_index"] = index
            run["repetitions"] = len(passes)
        if merged is None:
            merged = {"context": data["context"], "benchmarks": []}
            merged["context"]["load_avg_passes"] = []
        merged["context"]["load_avg_passes"].append(data["context"].get("load_avg"))
        merged["benchmarks"] += runs
    with open(out, "w") as file:
        json.dump(merged, file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
