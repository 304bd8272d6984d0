#!/usr/bin/env python3
"""Checks the shape of floe_bench_suite's JSON, for CI: no timing is asserted, only that the
report (bench/report.py) gets what it reads.

    bench/check_results.py bench/results/pinned.json [more.json ...]

Each file must be Google Benchmark JSON whose context names the placement and the commit; every
run's name must be "<workload>/<transport>/<mode>" (plus Google Benchmark's own suffixes); a run
that did not fail must carry its figures (the percentile counters of a latency row, the one
figure of the others: responses_per_s, round_trips_per_s, idle_cpu_percent, shm_segment_bytes;
the time per iteration and allocs_per_op of a building block, "micro/<block>/<variant>", every
one of which the pinned file must hold; a Python building block, "micro/python <...>/<variant>",
has no allocs_per_op), and the cost counters it carries must be numbers >= 0
(syscalls_per_op is absent where system calls cannot be counted, and on rows that do not count
them); a run that failed must say "not installed: ...", which is the only failure a complete run
may have. The pinned file must also hold the Python rows (bench/python/round_trip.py, which
scripts/bench.sh runs after each pass of the suite), with figures or as "not installed" when the
Python package was not built. Exits 1 naming every problem, 0 otherwise.
"""

import json
import math
import re
import sys

PLACEMENTS = {"pinned", "unpinned", "one-core"}
PERCENTILES = ["p0", "p10", "p25", "p50", "p75", "p90", "p99", "p99_9", "p100"]
NAME = re.compile(
    r"^(?P<workload>round_trip|payload_[1-9][0-9]*|slice_[1-9][0-9]*|stream|fan_in_[1-9][0-9]*"
    r"|idle|micro|shm)"
    r"/(?P<transport>[a-z0-9][a-z0-9 +._-]*)/(?P<mode>[a-z0-9_]+)"
    r"(/(iterations:[0-9]+|repeats:[0-9]+|threads:[0-9]+|min_time:[0-9.]+s?"
    r"|min_warmup_time:[0-9.]+s?|manual_time|real_time|process_time))*$")
THROUGHPUT = {"stream": "responses_per_s", "fan_in": "round_trips_per_s",
              "idle": "idle_cpu_percent", "shm": "shm_segment_bytes"}
# Cost counters a run may carry (syscalls_per_op only where system calls can be counted): if
# there, a number not below 0.
COSTS = ["cpu_ns_per_op", "allocs_per_op", "syscalls_per_op", "shm_allocated_bytes",
         "shm_client_resident_bytes", "shm_server_resident_bytes"]
# The building blocks (bench/suite/micro_rows.cpp), "micro/<block>/<variant>": ordinary Google
# Benchmark loops, every one in the pinned placement's file (the others do not run them).
MICRO_ROWS = ["micro/loan_release/request", "micro/loan_release/response",
              "micro/send_receive/one_process", "micro/send_receive/one_process_slice_8",
              "micro/index_queue/push_pop",
              "micro/co_await/ready", "micro/task/inline", "micro/task/resume"]
# The Python rows (bench/python/round_trip.py), every one in the pinned placement's file.
PYTHON_ROWS = ["round_trip/python floe/polling", "round_trip/python floe/asyncio",
               "round_trip/python multiprocessing/blocking", "round_trip/python socket/asyncio",
               "micro/python floe/send_receive", "micro/python floe/send_receive_module",
               "micro/python floe/payload_read"]


def absent_pinned_rows(runs, placement):
    """The rows of MICRO_ROWS and PYTHON_ROWS a pinned file lacks, as problems."""
    names = {"/".join((r.get("run_name") or r.get("name") or "").split("/")[:3]) for r in runs}
    if placement != "pinned":
        return []
    return [f"{name}: absent" for name in MICRO_ROWS + PYTHON_ROWS if name not in names]


def micro_figure_problem(run):
    """What a micro run that did not fail lacks (its time per iteration in ns, allocs_per_op),
    or None."""
    python = (run.get("run_name") or run.get("name") or "").startswith("micro/python ")
    wanted = ("real_time",) if python else ("real_time", "allocs_per_op")
    absent = [c for c in wanted if not is_number(run.get(c))]
    if absent:
        return "has no " + ", ".join(absent)
    if run.get("time_unit") != "ns":
        return f"has its time in {run.get('time_unit')!r}, not ns"
    return None


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and not math.isnan(value)


def figure_problem(run, workload):
    """What a run that did not fail lacks, or None."""
    if workload == "micro":
        return micro_figure_problem(run)
    kind = "fan_in" if workload.startswith("fan_in_") else workload
    counter = THROUGHPUT.get(kind)
    wanted = [counter] if counter else PERCENTILES
    absent = [c for c in wanted if not isinstance(run.get(c), (int, float))
              or isinstance(run.get(c), bool) or math.isnan(run[c])]
    if absent:
        return "has no " + ", ".join(absent)
    if not counter and any(run[a] > run[b] for a, b in zip(PERCENTILES, PERCENTILES[1:])):
        return "has percentiles out of order: " + ", ".join(f"{c}={run[c]:g}" for c in PERCENTILES)
    bad = [f"{c}={run[c]!r}" for c in COSTS if c in run
           and (not isinstance(run[c], (int, float)) or isinstance(run[c], bool)
                or math.isnan(run[c]) or run[c] < 0)]
    if bad:
        return "has cost counters that are not numbers >= 0: " + ", ".join(bad)
    return None


def check(path):
    """The problems of one file, as messages."""
    try:
        with open(path) as file:
            data = json.load(file)
    except (OSError, ValueError) as error:
        return [f"not readable as JSON: {error}"]
    if not isinstance(data, dict) or not isinstance(data.get("context"), dict) \
            or not isinstance(data.get("benchmarks"), list):
        return ["not Google Benchmark JSON (wants an object with \"context\" and \"benchmarks\")"]
    problems = []
    context = data["context"]
    if context.get("placement") not in PLACEMENTS:
        problems.append(f"context: placement is {context.get('placement')!r}, not one of "
                        + ", ".join(sorted(PLACEMENTS)))
    if not context.get("commit"):
        problems.append("context: no commit (FLOE_BENCH_COMMIT unset?)")
    iterations = [run for run in data["benchmarks"] if run.get("run_type") != "aggregate"]
    if not iterations:
        problems.append("no runs")
    for run in iterations:
        name = run.get("run_name") or run.get("name") or "<no name>"
        match = NAME.match(name)
        if not match:
            problems.append(f"{name!r}: not <workload>/<transport>/<mode> (workloads: "
                            "round_trip, payload_<bytes>, slice_<bytes>, stream, fan_in_<n>, "
                            "idle, micro, shm; lower case)")
            continue
        if run.get("error_occurred"):
            message = run.get("error_message", "")
            if not message.startswith("not installed:"):
                problems.append(f"{name}: failed: {message}")
            continue
        problem = figure_problem(run, match.group("workload"))
        if problem:
            problems.append(f"{name}: {problem}")
    problems += absent_pinned_rows(iterations, context.get("placement"))
    return problems


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    failed = False
    for path in sys.argv[1:]:
        problems = check(path)
        if problems:
            failed = True
            print(f"{path}: {len(problems)} problem(s)", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
        else:
            with open(path) as file:
                data = json.load(file)
            runs = [r for r in data["benchmarks"] if r.get("run_type") != "aggregate"]
            absent = sum(1 for r in runs if r.get("error_occurred"))
            print(f"{path}: ok, {len(runs)} runs ({absent} of them: not installed), placement "
                  f"{data['context']['placement']}, commit {data['context']['commit']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
