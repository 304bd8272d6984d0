#!/usr/bin/env python3
"""Turns floe_bench_suite's JSON (one file per placement, written by scripts/bench.sh) into
docs/BENCHMARKS.md with its plots, and prints the targets, met or not.

    bench/report.py [--docs DIR] bench/results/pinned.json bench/results/unpinned.json ...

Rows are named "<workload>/<transport>/<mode>"; Google Benchmark appends "/iterations:N" and
the like. The report takes whatever rows the files hold: a row missing from a file leaves a gap
(a target that needs it reads "n/a"), a row of a transport that is not installed is listed with
its reason. Plots need matplotlib (python3-matplotlib); without it the report has none.
"""

import argparse
import json
import math
import os
import platform
import re
import statistics
import sys

PERCENTILES = [("p0", 0.0), ("p10", 0.10), ("p25", 0.25), ("p50", 0.50), ("p75", 0.75),
               ("p90", 0.90), ("p99", 0.99), ("p99_9", 0.999), ("p100", 1.0)]
PLACEMENTS = ["pinned", "unpinned", "one-core"]
MODE_ORDER = ["polling", "default_spin", "asleep", "blocking", "asio", "co_await", "async",
              "asyncio", "loan", "loan_fill", "copy"]

# Modes compared with each other: busy ones spin on the peer's memory (floe's default spin does
# with a prompt peer), waiting ones sleep in the kernel until the peer wakes them.
FAMILIES = {"polling": "busy", "default_spin": "busy",
            "asleep": "waiting", "blocking": "waiting", "co_await": "waiting", "asio": "waiting",
            "async": "waiting", "asyncio": "waiting"}
FLOORS = {"busy": "round_trip/raw cache line/polling", "waiting": "round_trip/raw futex/asleep"}
RAW_CACHE_LINE = FLOORS["busy"]
RAW_FUTEX = FLOORS["waiting"]
RAW_EVENTFD_EPOLL = "round_trip/raw eventfd+epoll/asleep"
RAW_EVENTFD_ASIO = "round_trip/raw eventfd+asio/asleep"
RAW_FUTEX_IO_URING = "round_trip/raw futex+io_uring/asleep"

PLOT_ROUND_TRIP = "bench-round-trip.png"
PLOT_PAYLOAD = "bench-payload.png"
PLOT_FAN_IN = "bench-fan-in.png"

WORKLOAD = re.compile(r"^(round_trip|payload_(\d+)|stream|fan_in_(\d+)|idle|slice_(\d+))$")


def family(mode):
    return FAMILIES.get(mode, mode)


def throughput_counter(workload):
    """The counter a throughput workload reports, None for latency workloads."""
    if workload == "stream":
        return "responses_per_s"
    if workload.startswith("fan_in_"):
        return "round_trips_per_s"
    if workload == "idle":
        return "idle_cpu_percent"
    return None


def is_python(transport):
    """The rows of bench/python/round_trip.py ("python floe", "python <baseline>"): shown in a
    section of their own, never among the C++ rows, their peers or their targets."""
    return transport.startswith("python ")


def is_peer(transport):
    return not transport.startswith("floe") and not transport.startswith("raw") \
        and not is_python(transport)


def transport_rank(transport):
    if transport.startswith("raw"):
        return 0
    if transport.startswith("floe"):
        return 1
    return 2


def mode_rank(mode):
    return MODE_ORDER.index(mode) if mode in MODE_ORDER else len(MODE_ORDER)


def series_key(item):
    (transport, mode), _ = item
    return (transport_rank(transport), transport, mode_rank(mode), mode)


def workload_key(workload):
    match = WORKLOAD.match(workload)
    if not match:
        return (6, 0, workload)
    if match.group(1) == "round_trip":
        return (0, 0, workload)
    if match.group(2):
        return (1, int(match.group(2)), workload)
    if match.group(4):
        return (2, int(match.group(4)), workload)
    if workload == "stream":
        return (3, 0, workload)
    if match.group(3):
        return (4, int(match.group(3)), workload)
    return (5, 0, workload)


class Row:
    """One row of one placement: its repetitions that ran, and the errors of those that did not."""

    def __init__(self, name):
        self.name = name
        parts = name.split("/")
        self.workload, self.transport, self.mode = parts[0], parts[1], parts[2]
        self.runs = []
        self.errors = []

    def key(self):
        return (workload_key(self.workload), transport_rank(self.transport), self.transport,
                mode_rank(self.mode), self.mode)

    def median(self, counter):
        values = [run[counter] for run in self.runs if isinstance(run.get(counter), (int, float))
                  and not math.isnan(run[counter])]
        return statistics.median(values) if values else None

    def maximum(self, counter):
        values = [run[counter] for run in self.runs if isinstance(run.get(counter), (int, float))
                  and not math.isnan(run[counter])]
        return max(values) if values else None

    def problem(self):
        """Why the row has no figures ("not installed: ...", "failed: ..."), or None."""
        if self.runs:
            return None
        message = self.errors[0] if self.errors else "no runs"
        return message if message.startswith("not installed:") else "failed: " + message


class Results:
    def __init__(self, paths):
        self.contexts = {}
        self.rows = {}  # placement -> row name -> Row
        for path in paths:
            try:
                with open(path) as file:
                    data = json.load(file)
            except (OSError, ValueError) as error:
                raise SystemExit(f"report: {path}: not readable as JSON: {error}")
            context = data.get("context", {})
            placement = context.get("placement", os.path.splitext(os.path.basename(path))[0])
            self.contexts.setdefault(placement, context)
            rows = self.rows.setdefault(placement, {})
            for run in data.get("benchmarks", []):
                if run.get("run_type", "iteration") != "iteration":
                    continue  # Google Benchmark's aggregates: the report makes its own
                parts = run.get("run_name", run.get("name", "")).split("/")
                if len(parts) < 3:
                    continue
                name = "/".join(parts[:3])
                row = rows.setdefault(name, Row(name))
                if run.get("error_occurred"):
                    row.errors.append(run.get("error_message", "unknown error"))
                else:
                    row.runs.append(run)
        self.repetitions = max((run.get("repetitions", 1) for rows in self.rows.values()
                                for row in rows.values() for run in row.runs), default=0)
        known = [p for p in PLACEMENTS if p in self.rows]
        self.placements = known + sorted(p for p in self.rows if p not in known)
        self.main = self.placements[0] if self.placements else None

    def row(self, name, placement=None):
        row = self.rows.get(placement or self.main, {}).get(name)
        return row if row is not None and row.runs else None

    def median(self, name, counter="p50", placement=None):
        row = self.row(name, placement)
        return row.median(counter) if row else None

    def main_rows(self):
        """The rows of the main placement, the Python ones aside (python_rows)."""
        return sorted((r for r in self.rows.get(self.main, {}).values()
                       if not is_python(r.transport)), key=Row.key)

    def python_rows(self):
        return sorted((r for r in self.rows.get(self.main, {}).values()
                       if is_python(r.transport)), key=Row.key)


# ---------------------------------------------------------------------------------------------
# Formatting


def ns(value):
    if value is None:
        return "–"
    if value < 1e4:
        return f"{value:.0f} ns"
    if value < 1e6:
        return f"{value / 1e3:.1f} µs"
    if value < 1e9:
        return f"{value / 1e6:.2f} ms"
    return f"{value / 1e9:.2f} s"


def rate(value):
    if value is None:
        return "–"
    if value >= 1e6:
        return f"{value / 1e6:.2f} M/s"
    if value >= 1e3:
        return f"{value / 1e3:.1f} k/s"
    return f"{value:.0f} /s"


def ratio(value):
    return "–" if value is None else f"{value:.2f}x"


def number(value, digits=0):
    return "–" if value is None else f"{value:,.{digits}f}"


def divide(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def size(bytes_):
    for unit, factor in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if bytes_ >= factor and bytes_ % factor == 0:
            return f"{bytes_ // factor} {unit}"
    return f"{bytes_} B"


def table(headers, rows, right=None):
    """A Markdown table; columns in `right` (indexes) are right-aligned."""
    right = set(right or [])
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return lines


# ---------------------------------------------------------------------------------------------
# Targets (DESIGN.md, "Figures to reach"), all on the main placement


class Target:
    def __init__(self, title, compares, status, figure):
        self.title, self.compares, self.status, self.figure = title, compares, status, figure


def missing(*names):
    return "row missing: " + ", ".join(f"`{n}`" for n in names)


def ratio_target(results, title, row, floor, limit, counter="p50"):
    compares = f"median of `{row}` ≤ {limit}x median of `{floor}`"
    a, b = results.median(row, counter), results.median(floor, counter)
    if a is None or b is None:
        absent = [n for n, v in ((row, a), (floor, b)) if v is None]
        return Target(title, compares, "n/a", missing(*absent))
    value = a / b
    return Target(title, compares, "PASS" if value <= limit else "FAIL",
                  f"{ns(a)} / {ns(b)} = {value:.2f}x")


def informational_ratio(results, title, row, floor, also_title, also_floor):
    """Not a target: median of `row` / median of `floor`, and of `floor` / `also_floor`. For
    Asio, floe's Asio row over the same wait with nothing of floe (what floe adds) and that wait
    over a bare epoll loop (what Asio adds); asleep, floe's row over a futex pair waited on in
    io_uring as floe's runtime waits (what floe adds) and that over the plain futex pair (what
    io_uring adds)."""
    compares = f"median of `{row}` / median of `{floor}`; {also_title}"
    a, b, c = (results.median(row), results.median(floor), results.median(also_floor))
    if a is None or b is None:
        return Target(title, compares, "info",
                      missing(*[n for n, v in ((row, a), (floor, b)) if v is None]))
    figure = f"{ns(a)} / {ns(b)} = {a / b:.2f}x ({a - b:+,.0f} ns)"
    if c is not None:
        figure += f"; {ns(b)} / {ns(c)} = {b / c:.2f}x ({b - c:+,.0f} ns)"
    return Target(title, compares, "info", figure)


def targets(results):
    found = []
    found.append(ratio_target(results, "polling round trip", "round_trip/floe/polling",
                              RAW_CACHE_LINE, 2.0))

    asleep = ratio_target(results, "both asleep", "round_trip/floe/asleep", RAW_FUTEX, 1.02)
    asleep.compares += ", and its p99 ≤ the futex's p99"
    p99, floor_p99 = (results.median("round_trip/floe/asleep", "p99"),
                      results.median(RAW_FUTEX, "p99"))
    if asleep.status != "n/a" and p99 is not None and floor_p99 is not None:
        asleep.figure += f"; p99 {ns(p99)} vs {ns(floor_p99)}"
        if p99 > floor_p99:
            asleep.status = "FAIL"
    found.append(asleep)

    a, b = results.median("round_trip/floe/asleep"), results.median(RAW_FUTEX)
    compares = f"median of `round_trip/floe/asleep` − median of `{RAW_FUTEX}` ≤ 1 µs"
    if a is None or b is None:
        found.append(Target("both asleep, added time", compares, "n/a",
                            missing(*[n for n, v in (("round_trip/floe/asleep", a),
                                                     (RAW_FUTEX, b)) if v is None])))
    else:
        found.append(Target("both asleep, added time", compares,
                            "PASS" if a - b <= 1000 else "FAIL", f"{a - b:+,.0f} ns"))

    found.append(informational_ratio(
        results, "both asleep, floe's share (informational)", "round_trip/floe/asleep",
        RAW_FUTEX_IO_URING, f"io_uring's share: `{RAW_FUTEX_IO_URING}` / `{RAW_FUTEX}`",
        RAW_FUTEX))

    found.append(ratio_target(results, "default spin, prompt peer", "round_trip/floe/default_spin",
                              RAW_CACHE_LINE, 2.2))
    found.append(ratio_target(results, "inside Asio, both asleep", "round_trip/floe/asio",
                              RAW_EVENTFD_EPOLL, 1.05))
    found.append(informational_ratio(
        results, "inside Asio, floe's share (informational)", "round_trip/floe/asio",
        RAW_EVENTFD_ASIO, f"Asio's own share: `{RAW_EVENTFD_ASIO}` / `{RAW_EVENTFD_EPOLL}`",
        RAW_EVENTFD_EPOLL))

    floe_polling = results.median("round_trip/floe/polling")
    peer_rows = [r for r in results.main_rows() if r.workload == "round_trip"
                 and r.mode == "polling" and is_peer(r.transport) and r.runs]
    compares = ("median of every peer's `round_trip/<peer>/polling` ≥ 2x median of "
                "`round_trip/floe/polling`")
    if floe_polling is None or not peer_rows:
        why = missing("round_trip/floe/polling") if floe_polling is None else \
            "no peer has a polling round-trip row"
        found.append(Target("2x ahead of every peer, both polling", compares, "n/a", why))
    else:
        figures = [f"{r.transport} {r.median('p50') / floe_polling:.2f}x" for r in peer_rows]
        worst = min(r.median("p50") / floe_polling for r in peer_rows)
        found.append(Target("2x ahead of every peer, both polling", compares,
                            "PASS" if worst >= 2.0 else "FAIL", ", ".join(figures)))

    found.append(ratio_target(results, "loaned round trip, 16 MiB vs 8 B",
                              "payload_16777216/floe/loan", "payload_8/floe/loan", 1.10))
    found.append(ratio_target(results, "1 MiB slice loaned vs 1 MiB fixed payload",
                              "slice_1048576/floe/loan", "payload_1048576/floe/loan", 1.10))
    found.append(ratio_target(results, "8-byte slice loaned vs 8-byte fixed payload",
                              "slice_8/floe/loan", "payload_8/floe/loan", 1.05))
    found.append(informational_ratio(
        results, "1 MiB slice produced in place vs copied (informational)",
        "slice_1048576/floe/loan_fill", "slice_1048576/floe/copy",
        "the copy against the fixed payload's: `slice_1048576/floe/copy` / "
        "`payload_1048576/floe/copy`", "payload_1048576/floe/copy"))

    per_second = results.median("stream/floe/co_await", "responses_per_s")
    raw = results.median(RAW_CACHE_LINE)
    compares = (f"1 s / `responses_per_s` of `stream/floe/co_await` ≤ ⅓ of the median of "
                f"`{RAW_CACHE_LINE}`")
    if per_second is None or raw is None:
        found.append(Target("stream through coroutines", compares, "n/a",
                            missing(*[n for n, v in (("stream/floe/co_await", per_second),
                                                     (RAW_CACHE_LINE, raw)) if v is None])))
    else:
        each = 1e9 / per_second
        found.append(Target("stream through coroutines", compares,
                            "PASS" if each <= raw / 3 else "FAIL",
                            f"{each:.0f} ns per response vs {raw / 3:.0f} ns "
                            f"({rate(per_second)})"))

    found.append(informational_ratio(
        results, "floe-gateway round trip over a direct gRPC call, TCP (informational)",
        "round_trip/floe-gateway/tcp", "round_trip/grpc/tcp",
        "gRPC over TCP against a Unix socket: `round_trip/grpc/tcp` / `round_trip/grpc/async`",
        "round_trip/grpc/async"))
    gateway, direct = (results.median("stream/floe-gateway/tcp", "responses_per_s"),
                       results.median("stream/grpc/tcp", "responses_per_s"))
    compares = ("`responses_per_s` of `stream/floe-gateway/tcp` / that of `stream/grpc/tcp` (a "
                "direct gRPC stream writing one message per response)")
    found.append(Target("floe-gateway stream over a direct gRPC stream, TCP (informational)",
                        compares, "info",
                        missing(*[n for n, v in (("stream/floe-gateway/tcp", gateway),
                                                 ("stream/grpc/tcp", direct)) if v is None])
                        if gateway is None or direct is None else
                        f"{rate(gateway)} / {rate(direct)} = {gateway / direct:.2f}x"))

    idle = [r for r in results.main_rows() if r.workload == "idle" and r.transport == "floe"
            and r.runs]
    compares = "`idle_cpu_percent` of every `idle/floe/<mode>` row < 1 %"
    if not idle:
        found.append(Target("idle CPU", compares, "n/a", missing("idle/floe/<mode>")))
    else:
        values = [(r.mode, r.median("idle_cpu_percent")) for r in idle]
        ok = all(v is not None and v < 1.0 for _, v in values)
        found.append(Target("idle CPU", compares, "PASS" if ok else "FAIL",
                            ", ".join(f"{m} {number(v, 2)} %" for m, v in values)))

    fan_in = {}
    for r in results.main_rows():
        match = WORKLOAD.match(r.workload)
        if match and match.group(3) and r.transport == "floe" and r.runs:
            fan_in.setdefault(r.mode, {})[int(match.group(3))] = r.median("round_trips_per_s")
    compares = ("`round_trips_per_s` of `fan_in_<n>/floe/<mode>` with the most clients ≥ with "
                "the fewest")
    spans = {m: v for m, v in fan_in.items() if len(v) >= 2}
    if not spans:
        found.append(Target("fan-in does not fall", compares, "n/a",
                            missing("fan_in_<n>/floe/<mode>, two n or more")))
    else:
        ok = True
        figures = []
        for mode, by_n in sorted(spans.items()):
            low, high = min(by_n), max(by_n)
            ok = ok and by_n[high] is not None and by_n[low] is not None and by_n[high] >= by_n[low]
            figures.append(f"{mode}: {low} → {high} clients "
                           f"{rate(by_n[low])} → {rate(by_n[high])}")
        found.append(Target("fan-in does not fall", compares, "PASS" if ok else "FAIL",
                            "; ".join(figures)))

    # Steady state: an allocation made once (a thread's first sleep, say) is not per message.
    floe_rows = [r for r in results.main_rows() if r.transport == "floe" and r.runs
                 and r.median("allocs_per_op") is not None]
    compares = ("`allocs_per_op` (client process) of every floe row < 0.001: no allocation per "
                "message, one-off ones aside")
    if not floe_rows:
        found.append(Target("no heap allocation per message", compares, "n/a",
                            missing("floe rows with allocs_per_op")))
    else:
        allocating = [r for r in floe_rows if r.maximum("allocs_per_op") > 0]
        ok = all(r.maximum("allocs_per_op") < 0.001 for r in allocating)
        found.append(Target("no heap allocation per message", compares,
                            "PASS" if ok else "FAIL",
                            ", ".join(f"`{r.name}` {r.maximum('allocs_per_op'):.2g}"
                                      for r in allocating)
                            or f"0 in every floe row ({len(floe_rows)})"))
    return found


# ---------------------------------------------------------------------------------------------
# Plots


def make_plots(results, directory):
    """Writes the plots there is data for; returns their file names."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        print("report: matplotlib is not installed (python3-matplotlib): no plots, and the "
              "old ones are left as they were", file=sys.stderr)
        return {}
    for name in (PLOT_ROUND_TRIP, PLOT_PAYLOAD, PLOT_FAN_IN):
        if os.path.exists(os.path.join(directory, name)):
            os.remove(os.path.join(directory, name))  # a plot without data now is stale
    made = {}

    def save(figure, name):
        figure.tight_layout()
        figure.savefig(os.path.join(directory, name), dpi=110)
        plt.close(figure)
        made[name] = True

    round_trips = [r for r in results.main_rows() if r.workload == "round_trip" and r.runs
                   and r.median("p50") is not None]
    if round_trips:
        figure, axes = plt.subplots(figsize=(11, 6))
        colours = plt.get_cmap("tab20").colors
        for index, r in enumerate(round_trips):
            # The tails are the point: quantiles on a logit scale (p0 and max lie at its ends).
            points = [(r.median(c), q) for c, q in PERCENTILES[1:-1] if r.median(c) is not None]
            axes.plot([p[0] for p in points], [p[1] for p in points],
                      "--" if r.transport.startswith("raw") else "-",
                      linewidth=2.4 if r.transport == "floe" else 1.2,
                      color=colours[index % len(colours)], marker="o", markersize=3,
                      label=f"{r.transport} / {r.mode}")
        axes.set_xscale("log")
        axes.set_yscale("logit")
        quantiles = PERCENTILES[1:-1]
        axes.set_yticks([q for _, q in quantiles], [c.replace("_", ".") for c, _ in quantiles])
        axes.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        axes.set_xlabel("round trip (ns, log scale)")
        axes.set_ylabel("percentile (this share of round trips is at most that long)")
        axes.set_title(f"8-byte round trip, latency CDF ({results.main})")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        save(figure, PLOT_ROUND_TRIP)

    by_row = {}
    for r in results.main_rows():
        match = WORKLOAD.match(r.workload)
        if match and match.group(2) and r.runs and r.median("p50") is not None:
            by_row.setdefault((r.transport, r.mode), []).append((int(match.group(2)),
                                                                 r.median("p50")))
    if by_row:
        figure, axes = plt.subplots(figsize=(9, 5.5))
        for (transport, mode), points in sorted(by_row.items(), key=series_key):
            points.sort()
            axes.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                      label=f"{transport} / {mode}")
        axes.set_xscale("log", base=2)
        axes.set_yscale("log")
        sizes = sorted({p[0] for points in by_row.values() for p in points})
        axes.set_xticks(sizes, [size(n) for n in sizes])
        axes.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        axes.set_xlabel("request size (log scale)")
        axes.set_ylabel("median round trip (ns, log scale)")
        axes.set_title(f"Round trip against request size ({results.main})")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=8)
        save(figure, PLOT_PAYLOAD)

    by_row = {}
    for r in results.main_rows():
        match = WORKLOAD.match(r.workload)
        if match and match.group(3) and r.runs and r.median("round_trips_per_s") is not None:
            by_row.setdefault((r.transport, r.mode), []).append(
                (int(match.group(3)), r.median("round_trips_per_s")))
    if by_row:
        figure, axes = plt.subplots(figsize=(9, 5.5))
        for (transport, mode), points in sorted(by_row.items(), key=series_key):
            points.sort()
            axes.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                      label=f"{transport} / {mode}")
        axes.set_xscale("log", base=2)
        clients = sorted({p[0] for points in by_row.values() for p in points})
        axes.set_xticks(clients, [str(n) for n in clients])
        axes.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        axes.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: rate(v)))
        axes.set_ylim(bottom=0)
        axes.set_xlabel("client processes (log scale)")
        axes.set_ylabel("round trips per second, all clients")
        axes.set_title(f"Fan-in: one server, n clients ({results.main})")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=8)
        save(figure, PLOT_FAN_IN)
    return made


# ---------------------------------------------------------------------------------------------
# The document


def machine(context):
    cpu = context.get("cpu_model")
    if not cpu:
        try:
            with open("/proc/cpuinfo") as file:
                cpu = next((line.split(":", 1)[1].strip() for line in file
                            if line.startswith("model name")), "unknown CPU")
        except OSError:
            cpu = "unknown CPU"
    cores = context.get("num_cpus", os.cpu_count())
    kernel = context.get("kernel", platform.release())
    return f"{cpu}, {cores} cores, Linux {kernel}"


def percentile_cells(row):
    """A latency row's median, p99, p99.9 and max, as table cells."""
    return [ns(row.median("p50")), ns(row.median("p99")), ns(row.median("p99_9")),
            ns(row.maximum("p100"))]


def latency_table(results, rows):
    headers = ["transport", "mode", "median", "p99", "p99.9", "max", "/ floor", "/ best peer",
               "CPU ns/op", "allocs/op"]
    best_peer = {}
    for r in rows:
        if r.runs and is_peer(r.transport) and r.median("p50") is not None:
            f = family(r.mode)
            best_peer[f] = min(best_peer.get(f, math.inf), r.median("p50"))
    lines = []
    for r in rows:
        problem = r.problem()
        if problem:
            lines.append([r.transport, r.mode, problem] + ["–"] * 7)
            continue
        median = r.median("p50")
        floor = FLOORS.get(family(r.mode))
        floor_median = results.median(floor) if floor else None
        lines.append([r.transport, r.mode] + percentile_cells(r) +
                     [ratio(divide(median, floor_median)),
                      "–" if r.transport.startswith("raw") else
                      ratio(divide(median, best_peer.get(family(r.mode)))),
                      number(r.median("cpu_ns_per_op")), number(r.median("allocs_per_op"), 2)])
    return table(headers, lines, right=range(2, 10))


# The Python rows (bench/python/round_trip.py): the C++ floe row each mode is measured against,
# the one that waits the same way (asyncio: an event loop asleep on floe's fd, as Asio's).
CPP_COUNTERPART = {"polling": "round_trip/floe/polling", "asyncio": "round_trip/floe/asio",
                   "blocking": "round_trip/floe/asleep"}
CPP_MICRO = "micro/send_receive/one_process"


def python_section(results):
    """The "Python" section: the Python round trips beside the C++ floe rows they compare with,
    and where Python's time goes. Empty without Python rows."""
    rows = [r for r in results.python_rows() if r.workload == "round_trip"]
    if not rows:
        return []
    baselines = [r for r in rows if r.transport != "python floe" and r.runs
                 and r.median("p50") is not None]
    best_baseline = min(baselines, key=lambda r: r.median("p50")) if baselines else None

    def cells(r, shown, counterpart):
        median = r.median("p50")
        return [shown, r.mode] + percentile_cells(r) + [
            ratio(divide(median, counterpart)),
            ratio(divide(median, best_baseline.median("p50") if best_baseline else None)),
            number(r.median("cpu_ns_per_op"))]

    lines = []
    for name in dict.fromkeys(CPP_COUNTERPART.values()):
        r = results.row(name)
        if r is not None:
            lines.append(cells(r, f"floe (C++, `{name}`)", r.median("p50")))
    for r in rows:
        problem = r.problem()
        if problem:
            lines.append([r.transport, r.mode, problem] + ["–"] * 6)
        else:
            lines.append(cells(r, r.transport, results.median(CPP_COUNTERPART.get(r.mode, ""))))
    out = ["## Python", "",
           "The same 8-byte round trip between a Python client and a Python server, each a "
           "process of its own placed as the C++ rows' are (`bench/python/round_trip.py`, run "
           "by `scripts/bench.sh` after each pass of the suite, a pass's Python rows in random "
           "order; each round trip timed on its own with `time.perf_counter_ns`): `python floe` "
           "over the binding, `polling` with both sides calling `receive()` in a loop, "
           "`asyncio` with both asleep in an asyncio loop (`await server.receive_async()`, "
           "`await pending.receive_async()`), woken by floe's notifier through the loop's own "
           "selector; and what a Python program would otherwise use between two processes: "
           "`python multiprocessing`, `multiprocessing.connection` over a Unix socket "
           "(`send_bytes` / `recv_bytes`, blocking), and `python socket`, a Unix socket through "
           "asyncio streams. */ C++ floe* is against the C++ floe row that waits the same way "
           "(polling: `round_trip/floe/polling`; asyncio: `round_trip/floe/asio`, an event loop "
           "asleep on floe's fd; blocking: `round_trip/floe/asleep`), */ best Python baseline* "
           "against the fastest Python baseline, whatever its wait. *CPU ns/op* as above.", ""]
    out += table(["transport", "mode", "median", "p99", "p99.9", "max", "/ C++ floe",
                  "/ best Python baseline", "CPU ns/op"], lines, right=range(2, 9))
    out.append("")
    out += python_overhead(results, rows, best_baseline)
    return out


# The Python building blocks (bench/python/round_trip.py), with what one iteration does.
PYTHON_MICRO_ROWS = [
    ("micro/python floe/send_receive", "client and server of one service in one process, "
     "through the package: `send_copy`, `receive`, read the payload, `send_copy` the echo, "
     "`receive` the response, read it, release all"),
    ("micro/python floe/send_receive_module", "the same through the compiled module `_floe` "
     "alone (pybind11 and the C++ cores; no message wrappers, no payload views)"),
    ("micro/python floe/payload_read", "`active.payload().value` of a held 8-byte request"),
]


def python_overhead(results, rows, best_baseline):
    """What the Python time is made of, with this run's figures: the Python building blocks
    beside C++'s, and what they say about the round trips."""
    def median(transport, mode):
        return next((r.median("p50") for r in rows if (r.transport, r.mode) == (transport, mode)
                     and r.runs), None)

    def micro_time(name, counter="cpu_time"):
        """A building block's time per iteration; CPU time unless asked, the sturdier figure
        where other processes take the core (see Building blocks)."""
        row = results.rows.get(results.main, {}).get(name)
        return real_time_ns(row, counter) if row is not None and row.runs else None

    polling, asyncio_ = median("python floe", "polling"), median("python floe", "asyncio")
    cpp_polling = results.median(CPP_COUNTERPART["polling"])
    cpp_asio = results.median(CPP_COUNTERPART["asyncio"])
    package, module, read = (micro_time(name) for name, _ in PYTHON_MICRO_ROWS)
    cpp_one_process = micro_time(CPP_MICRO)

    def more(a, b):
        return f"{ns(a - b)} more" if a is not None and b is not None else "n/a"

    out = ["Where the Python time goes. The binding calls the same compiled client and server as "
           "C++ does; what Python adds is the interpreter around them, on both sides. Its "
           "building blocks, in one process with no peer, each timed as a whole loop (as the "
           "C++ ones in Building blocks, whose *CPU ns/op* the text below quotes):", ""]
    lines = []
    for name, what in [(CPP_MICRO, "C++: " + dict(MICRO_ROWS).get(CPP_MICRO, ""))] + \
            PYTHON_MICRO_ROWS:
        row = results.rows.get(results.main, {}).get(name)
        problem = row.problem() if row is not None else "row missing"
        lines.append([f"`{name}`", what] + ([problem, "–"] if problem else
                                              [ns(micro_time(name, "real_time")),
                                               ns(micro_time(name))]))
    out += table(["row", "one iteration", "ns/op", "CPU ns/op"], lines, right=[2, 3])
    out.append("")
    text = (f"A round trip through the package takes {ns(package)} of Python and C++ against "
            f"{ns(cpp_one_process)} in C++. {ns(module)} of it is the compiled module alone: "
            "seven calls through pybind11 into the C++ cores, each a Python call, argument "
            "conversion and a Python object for the message it returns. The rest, "
            f"{more(package, module).replace(' more', '')}, is the package's Python: a wrapper "
            "per message, and a view per payload read: one `active.payload().value` takes "
            f"{ns(read)}, in which the module hands out the payload's bytes, ctypes makes a "
            "`c_uint64` over them in shared memory (`from_buffer`) and a `PayloadView` wraps "
            "it, which checks on every access that its message is still held. In the polling "
            "round trip most of that work lies on the critical path, the server's between the "
            f"request's arrival and the response: `python floe/polling` takes "
            f"{more(polling, cpp_polling)} than `{CPP_COUNTERPART['polling']}`. asyncio adds "
            "the event loop's wake-up on each side: the loop returns from `epoll_wait` in its "
            "selector, runs the reader callback the binding registered with `loop.add_reader` "
            "on the floe runtime's fd, which completes a future, and resumes the awaiting task "
            f"a loop iteration later; `python floe/asyncio` takes {more(asyncio_, cpp_asio)} "
            f"than `{CPP_COUNTERPART['asyncio']}`, which wakes from the same fd in Asio.")
    baselines = [r for r in rows if r.transport != "python floe" and r.runs
                 and r.median("p50") is not None]
    compared = []
    for mode, value in (("polling", polling), ("asyncio", asyncio_)):
        if value is None or not baselines:
            continue
        compared.append(f"`python floe/{mode}` takes " + ", ".join(
            f"{ratio(divide(value, b.median('p50')))} the time of `{b.transport}/{b.mode}`"
            for b in baselines))
    if compared:
        text += " Against the standard library: " + "; ".join(compared) + "."
    return out + [text, ""]


def throughput_table(rows, counter):
    if counter == "idle_cpu_percent":
        headers = ["transport", "mode", "CPU while idle"]
    else:
        headers = ["transport", "mode", counter.replace("_per_s", "/s").replace("_", " "),
                   "ns each", "CPU ns/op", "allocs/op"]
    lines = []
    for r in rows:
        problem = r.problem()
        if problem:
            lines.append([r.transport, r.mode, problem] + ["–"] * (len(headers) - 3))
            continue
        value = r.median(counter)
        if counter == "idle_cpu_percent":
            lines.append([r.transport, r.mode, "–" if value is None else f"{value:.2f} %"])
        else:
            lines.append([r.transport, r.mode, rate(value), ns(divide(1e9, value)),
                          number(r.median("cpu_ns_per_op")), number(r.median("allocs_per_op"), 2)])
    return table(headers, lines, right=range(2, len(headers)))


def sized_table(rows, pattern_group, counter, format_value, label):
    """A table of one figure per row (transport/mode) and workload size (payload, clients)."""
    sizes, cells = set(), {}
    for r in rows:
        match = WORKLOAD.match(r.workload)
        if not match or not match.group(pattern_group):
            continue
        n = int(match.group(pattern_group))
        sizes.add(n)
        problem = r.problem()
        cells.setdefault((r.transport, r.mode), {})[n] = \
            problem if problem else format_value(r.median(counter))
    sizes = sorted(sizes)
    lines = [[t, m] + [by_n.get(n, "–") for n in sizes]
             for (t, m), by_n in sorted(cells.items(),
                                        key=lambda i: (transport_rank(i[0][0]), i[0][0],
                                                       mode_rank(i[0][1])))]
    return table(["transport", "mode"] + [label(n) for n in sizes], lines,
                 right=range(2, 2 + len(sizes)))


# The building blocks (bench/suite/micro_rows.cpp), in the order the table lists them, with what
# one iteration does.
MICRO_ROWS = [
    ("micro/loan_release/request", "`client.loan()` of an 8-byte request, dropped unsent"),
    ("micro/loan_release/response", "`active_request.loan()` of an 8-byte response, dropped "
     "unsent"),
    ("micro/send_receive/one_process", "client and server of one service in one process: loan, "
     "send, server `try_receive`, loan the response, send, drop the request, client "
     "`try_receive`, release all"),
    ("micro/send_receive/one_process_slice_8", "the same with a request of "
     "`floe::Slice<std::byte>`, 8 elements loaned with `loan_slice_uninit(8)` (what a slice's "
     "length costs on the way)"),
    ("micro/index_queue/push_pop", "one push and one pop of floe's lock-free index queue, by "
     "one thread"),
    ("micro/co_await/ready", "`co_await client.async_loan()` that completes at once in a "
     "`floe::Runtime` task, loan dropped (compare `micro/loan_release/request`)"),
    ("micro/task/inline", "`co_await` of a `floe::Task` that finishes without suspending (its "
     "frame made and destroyed)"),
    ("micro/task/resume", "`co_await floe::sleep_for(0ns)`: the task suspends and the runtime's "
     "loop resumes it, no kernel involved"),
]


def building_blocks(results):
    """The "Building blocks" section: the micro rows of the main placement, or nothing."""
    rows = {r.name: r for r in results.main_rows() if r.workload == "micro"}
    if not rows:
        return []
    described = dict(MICRO_ROWS)
    order = [name for name, _ in MICRO_ROWS if name in rows] + \
        sorted(name for name in rows if name not in described)
    lines = []
    for name in order:
        r = rows[name]
        problem = r.problem()
        figures = [r.median("real_time"), r.median("cpu_time")]
        lines.append([f"`{name}`", described.get(name, ""),
                      *(["–"] * 2 if problem else
                        ["–" if v is None else f"{v:.1f} ns" for v in figures]),
                      problem or number(r.median("allocs_per_op"), 2)])
    out = ["## Building blocks", "",
           "floe's parts on their own, in the benchmark process alone (no peer process), each "
           "a Google Benchmark loop timed as a whole: *ns/op* its wall time "
           "per iteration and *CPU ns/op* its CPU time (medians over the repetitions), "
           "*allocs/op* the heap allocations per iteration. Nothing here waits, so the two "
           "times agree on a quiet machine; where they differ, other processes took the core "
           "and *CPU ns/op* is the sturdier figure.", ""]
    out += table(["row", "one iteration", "ns/op", "CPU ns/op", "allocs/op"], lines,
                 right=[2, 3, 4])
    return out + [""]
def cost_table(results, rows):
    """What floe and the floors cost per message, idle and in shared memory (the Cost section):
    round trips (CPU, allocations, system calls), idle rows, shm rows."""
    counting = results.contexts.get(results.main, {}).get("syscall_counting", "")
    no_syscalls = counting if counting.startswith("n/a") else "–"
    lines = []
    for r in rows:
        if r.workload not in ("round_trip", "idle", "shm"):
            continue
        name = f"`{r.name}`"
        problem = r.problem()
        if problem:
            lines.append([name, problem] + ["–"] * 4)
            continue
        cpu, allocs, syscalls, idle, shm = "–", "–", "–", "–", "–"
        if r.workload == "round_trip":
            cpu = number(r.median("cpu_ns_per_op"))
            allocs = number(r.median("allocs_per_op"), 2)
            per_op = r.median("syscalls_per_op")
            syscalls = no_syscalls if per_op is None else number(per_op, 2)
        elif r.workload == "idle":
            percent, window = r.median("idle_cpu_percent"), r.median("idle_window_s")
            wakeups = r.median("idle_wakeups_per_s")
            idle = ("–" if percent is None else f"{percent:.3f} %") + \
                (f" over {window:.0f} s" if window is not None else "") + \
                (f", {wakeups:.1f} wake-ups/s" if wakeups is not None else "")
        else:
            segment = r.median("shm_segment_bytes")
            shm = "–" if segment is None else bytes_(segment)
        lines.append([name, cpu, allocs, syscalls, idle, shm])
    return table(["row", "CPU ns/message", "allocs/message", "syscalls/message", "idle CPU",
                  "shm bytes"], lines, right=range(1, 6))


def bytes_(value):
    """A byte count, in the largest binary unit that leaves it at least 1."""
    if value is None:
        return "–"
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= factor:
            return f"{value / factor:.1f} {unit}"
    return f"{value:.0f} B"


def shm_table(rows):
    """The shm rows in detail: the service's object, what tmpfs holds, what each side has
    resident after one round trip."""
    lines = []
    for r in rows:
        if r.workload != "shm" or r.problem():
            continue
        lines.append([f"`{r.name}`", bytes_(r.median("shm_segment_bytes")),
                      bytes_(r.median("shm_allocated_bytes")),
                      bytes_(r.median("shm_client_resident_bytes")),
                      bytes_(r.median("shm_server_resident_bytes")), ns(real_time_ns(r))])
    return table(["row", "segment", "held by tmpfs", "client resident", "server resident",
                  "creation"], lines, right=range(1, 6))


def real_time_ns(row, counter="real_time"):
    """The median real_time (or cpu_time) of a row in ns, whatever its time unit."""
    factors = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}
    values = [run[counter] * factors.get(run.get("time_unit", "ns"), 1) for run in row.runs
              if isinstance(run.get(counter), (int, float))]
    return statistics.median(values) if values else None


# The payload row each slice mode is set against: a loan against the loan, and the two that
# write every byte (in place, or copied in) against the fixed payload's copy.
SLICE_MODES = {"loan": "loan", "loan_fill": "copy", "copy": "copy"}


def slices_section(results, rows):
    """The "Slices" section: each slice row beside the fixed-size payload row of its size (the
    loan rows against `payload_<bytes>/floe/loan`, the copy against its copy), and the memory of
    a slice service against a fixed one. Empty without slice rows."""
    slice_rows = [r for r in rows if r.workload.startswith("slice_")]
    if not slice_rows:
        return []
    lines = []
    for r in slice_rows:
        fixed = f"payload_{r.workload.split('_')[1]}/floe/{SLICE_MODES.get(r.mode, r.mode)}"
        problem = r.problem()
        if problem:
            lines.append([f"`{r.name}`", problem] + ["–"] * 7)
            continue
        fixed_median = results.median(fixed)
        lines.append([f"`{r.name}`"] + percentile_cells(r) +
                     [f"`{fixed}` {ns(fixed_median)}",
                      ratio(divide(r.median("p50"), fixed_median)),
                      number(r.median("cpu_ns_per_op")), number(r.median("allocs_per_op"), 2)])
    out = ["## Slices", "",
           "Requests of `floe::Slice<std::byte>` (a service whose request is a run of bytes of "
           "any length up to its `request_max_slice_len`, here the row's size), answered by one "
           "8-byte response: `loan` is `loan_slice_uninit(n)` with 8 bytes written at each end, "
           "`loan_fill` the same with every byte written in place (a request produced in shared "
           "memory), `copy` is `send_copy(span)` of a prepared buffer. *against* is the "
           "`payload_<bytes>` row of the same size (a `std::array<std::byte, n>` request) it "
           "compares with: `loan` with the fixed loan (what a slice's length costs), `loan_fill` "
           "and `copy` with the fixed copy (each writes every byte once); */ against* is the "
           "ratio of the medians.", ""]
    out += table(["row", "median", "p99", "p99.9", "max", "against", "/ against", "CPU ns/op",
                  "allocs/op"], lines, right=[1, 2, 3, 4, 6, 7, 8])
    out.append("")
    fixed, sliced = (results.row("shm/floe/fixed_1mib"), results.row("shm/floe/slice_max_1mib"))
    grown = results.row("shm/floe/slice_grown_64kib")
    if fixed is not None and sliced is not None:
        text = ("Memory: a service of 1 MiB responses against one whose responses are slices "
                "of at most 1 MiB, with the same limits (Cost, below): "
                f"{bytes_(fixed.median('shm_segment_bytes'))} for the fixed one, "
                f"{bytes_(sliced.median('shm_segment_bytes'))} for the slices ("
                + ratio(divide(sliced.median("shm_segment_bytes"),
                               fixed.median("shm_segment_bytes")))
                + "). Every chunk of a slice service is reserved at its maximum length when the "
                "service is created, so a slice alone saves the copy and the fixed length, not "
                "memory.")
        if grown is not None and not grown.problem():
            text += (" A port that grows instead (`slice_grown_64kib`: slices of 4 KiB inline, "
                     "a server growing with `AllocationStrategy::power_of_two` to answer with "
                     "64 KiB) costs what it sent: "
                     f"{bytes_(grown.median('shm_segment_bytes'))} in "
                     f"{number(grown.median('shm_objects'))} objects ("
                     + ratio(divide(grown.median("shm_segment_bytes"),
                                    fixed.median("shm_segment_bytes")))
                     + " of the fixed one's), the service segment and the server's data "
                     "segment together.")
        out += [text, ""]
    return out


def document(results, found, plots, json_paths):
    context = results.contexts.get(results.main, {})
    quick = context.get("quick") == "1"
    command = "bash scripts/bench.sh" + (" --quick" if quick else "")
    load = context.get("load_avg")
    # The highest 1-minute load average any placement or pass of it started with.
    pass_loads = [lavg[0] for c in results.contexts.values()
                  for lavg in c.get("load_avg_passes", []) if lavg]
    highest_load = max(pass_loads + [c["load_avg"][0] for c in results.contexts.values()
                                     if c.get("load_avg")], default=None)
    out = []
    w = out.append
    w("# Benchmarks")
    w("")
    w("<!-- Generated by bench/report.py from the JSON in bench/results/: edit the generator, "
      "not this file. -->")
    w("")
    w("floe against the floors that shared memory and the kernel allow, and against its peers "
      "on the same host, every row in one run of `floe_bench_suite` (Google Benchmark, "
      "`bench/suite/`). The floors are two processes ping-ponging a value through two cache "
      "lines both poll (`raw cache line`), through a futex pair both sleep on (`raw futex`), "
      "through an eventfd pair both block on (`raw eventfd`); the futex pair with each side "
      "asleep in io_uring as floe's runtime sleeps (`raw futex+io_uring`); and the floors of "
      "an event loop, "
      "an eventfd pair each side waits for in `epoll_wait` before reading it "
      "(`raw eventfd+epoll`) and in a single-threaded Asio `io_context` with "
      "`stream_descriptor::async_wait` (`raw eventfd+asio`, what any Asio integration pays). "
      "The peers: Asio Unix sockets, "
      "ZeroMQ, gRPC and classic iceoryx. Python's round trips, over floe's binding and "
      "through the standard library, have a section of their own (Python).")
    w("")
    w("- **Workloads**: `round_trip`, an 8-byte request answered by one 8-byte response; "
      "`payload_<bytes>`, a request of that size and an 8-byte response; `slice_<bytes>`, the "
      "same with a request that is a slice of bytes of that length; `stream`, one request "
      "answered by a stream of 8-byte responses; `fan_in_<n>`, n client processes against one "
      "server; `idle`, the CPU a process waiting for messages that do not come burns.")
    w("- **Modes**, how the two sides wait: `polling` (busy loops), `asleep` (in the kernel, for "
      "every message), `default_spin` (floe's runtime with its default spin budget, then "
      "asleep), `asio` (inside an Asio `io_context`), `co_await`, `blocking`; `loan`, "
      "`loan_fill` and `copy` say how floe's request is written (in place in shared memory, "
      "every byte of it in place, or copied in).")
    w("- **How**: the server is a forked process, the client the benchmark process; each message "
      "is timed on its own (`steady_clock`, about 20 ns of which is the clock), giving the "
      "percentiles of a run. Each row runs several times (repetitions; one in a quick run), "
      "the repetitions of all rows interleaved at random so that drift of a shared machine "
      "hits every row alike. A figure below is the median over the repetitions of that "
      "repetition's figure (*median* is the median of their p50s); *max* is the largest of "
      "all.")
    w("- **Costs**: *CPU ns/op* is the user + system time of client and server per message; "
      "*allocs/op* the heap allocations of the client process per message (a replaced "
      "`operator new` counts them); system calls per message, idle CPU and shared memory are "
      "in the Cost section.")
    w("- **Ratios**: *busy* modes (`polling`, `default_spin`) are compared with the raw "
      "cache-line round trip and with the peers' busy rows, *waiting* modes (`asleep`, "
      "`blocking`, `asio`, `co_await`) with the raw futex round trip and the peers' waiting rows; "
      "any other mode with nothing. */ floor* is always against the 8-byte round trip; "
      "*/ best peer* against the fastest peer (not floe, not raw) of the same workload and mode "
      "family: below 1.00x floe is ahead.")
    w("- **Placements**: `pinned`, client on cpu 0 and server on cpu 1 (every row; every table "
      "but the last); `unpinned`, both left to the scheduler, and `one-core`, both on cpu 0 "
      "(the round trips of floe and of the floors; on one core not the polling ones, which "
      "would measure the scheduler's time slice).")
    w("")
    w("The measurements made by hand before this suite (layout versions 5 and 6), "
      "with where the time goes and what was tried: `git show dee2087:docs/BENCHMARKS.md`.")
    w("")
    w("This run:")
    w("")
    run_facts = [
        ("command", f"`{command}`" + (" (a twentieth of the samples: indicative only)"
                                      if quick else "")),
        ("date", context.get("date", "unknown")),
        ("machine", machine(context)),
        ("load average at the start", (", ".join(f"{v:.2f}" for v in load) if load else "unknown")
         + (f" (1 minute, at the start of each pass: "
            f"{', '.join(f'{v:.2f}' for v in pass_loads)})" if len(pass_loads) > 1 else "")),
        ("commit", f"`{context.get('commit', 'unknown')}`"),
        ("build", context.get("build_type", "unknown")),
        ("repetitions per row", str(results.repetitions)),
        ("placements", ", ".join(f"`{p}`" for p in results.placements)),
        ("JSON", ", ".join(f"`{p}`" for p in json_paths)),
    ]
    out += table(["", ""], [[k, v] for k, v in run_facts])
    w("")
    if highest_load is not None and highest_load > 1.0:
        w(f"The machine was not quiet: a load average of up to {highest_load:.2f} at the start "
          f"of a pass, on {context.get('num_cpus', os.cpu_count())} cores (other work shared "
          "them). Medians are higher and tails longer than on a quiet machine.")
        w("")
    if PLOT_ROUND_TRIP in plots:
        w(f"![8-byte round trip, latency CDF]({PLOT_ROUND_TRIP})")
        w("")

    w("## Targets")
    w("")
    w(f"From the design's figures to reach, on the `{results.main}` placement. A target whose "
      "rows are missing reads n/a. The script reports them; it does not fail on them.")
    w("")
    out += table(["target", "compares", "figure", "result"],
                 [[t.title, t.compares, t.figure, f"**{t.status}**"] for t in found])
    w("")

    rows = results.main_rows()
    workloads = sorted({r.workload for r in rows}, key=workload_key)
    for workload in workloads:
        if workload.startswith(("payload_", "slice_", "fan_in_")) or workload in ("micro", "shm"):
            continue
        these = [r for r in rows if r.workload == workload]
        counter = throughput_counter(workload)
        titles = {"round_trip": "Round trip, 8 bytes each way", "stream": "Streams",
                  "idle": "Idle"}
        w(f"## {titles.get(workload, workload)}")
        w("")
        if workload == "round_trip":
            if PLOT_ROUND_TRIP in plots:
                w("Latency CDF above (p10 to p99.9; dashed: the floors).")
                w("")
        if workload == "idle":
            w("CPU time a process waiting for a message that does not come uses, in % of one "
              "core.")
            w("")
        if workload == "stream":
            w("One request answered by a stream of 8-byte responses; *ns each* is 1 s / "
              "responses per second.")
            w("")
        if counter:
            out += throughput_table(these, counter)
        else:
            out += latency_table(results, these)
        w("")
        if workload == "round_trip":
            out += python_section(results)

    payload_rows = [r for r in rows if r.workload.startswith("payload_")]
    if payload_rows:
        w("## Payload sizes")
        w("")
        w("A request of the given size, an 8-byte response; median round trip.")
        w("")
        out += sized_table(payload_rows, 2, "p50", ns, lambda n: size(n))
        w("")
        if PLOT_PAYLOAD in plots:
            w(f"![Round trip against request size]({PLOT_PAYLOAD})")
            w("")
        for workload in sorted({r.workload for r in payload_rows}, key=workload_key):
            w(f"### {size(int(workload.split('_')[1]))} requests (`{workload}`)")
            w("")
            out += latency_table(results, [r for r in payload_rows if r.workload == workload])
            w("")

    out += slices_section(results, rows)

    fan_in_rows = [r for r in rows if r.workload.startswith("fan_in_")]
    if fan_in_rows:
        w("## Fan-in")
        w("")
        w("n client processes against one server; round trips per second, all clients together.")
        w("")
        out += sized_table(fan_in_rows, 3, "round_trips_per_s", rate,
                           lambda n: f"{n} client" + ("s" if n != 1 else ""))
        w("")
        if PLOT_FAN_IN in plots:
            w(f"![Fan-in]({PLOT_FAN_IN})")
            w("")

    if any(r.workload in ("round_trip", "idle", "shm") for r in rows):
        w("## Cost")
        w("")
        w("What a message costs besides time, on the round trips of the table above; what a "
          "process waiting for messages that do not come costs; what a service costs in shared "
          "memory. *CPU ns/message*: user + system time of client and server together per "
          "round trip. *allocs/message*: heap allocations of the client process. "
          "*syscalls/message*: system calls of client and server together per round trip, "
          "counted (perf_event_open on the tracepoint `raw_syscalls:sys_enter`) over the second "
          "half of the row's untimed warmup, since counting slows every system call of the "
          "machine; rows of other transports do not count them (–). *idle CPU*: of the waiting "
          "server, in % of one core over the window given, which starts 100 ms into the wait, "
          "long after the spin budget (20 µs) is spent; a full run watches 5 s, a quick one 1 s. "
          "*shm bytes*: the service's /dev/shm object.")
        w("")
        out += cost_table(results, rows)
        w("")
        shm_rows = [r for r in rows if r.workload == "shm" and not r.problem()]
        if shm_rows:
            context = results.contexts.get(results.main, {})
            large = context.get("shm_large_limits")
            one_mib = context.get("shm_1mib_limits")
            w("A service, one client and one server, after one round trip: *segment* is its "
              "/dev/shm object, *held by tmpfs* what tmpfs "
              "allocated for it (floe reserves every page when it creates the service), "
              "*resident* what each process has resident of its mapping (Rss in "
              "/proc/<pid>/smaps), *creation* the time the service's create() took. "
              "`default_limits` and `large_limits` carry 8-byte requests and responses, with "
              "floe's defaults (`floe/limits.hpp`) and with "
              + (f"`{large}`" if large else "the limits in `bench/suite/cost_rows.cpp`")
              + "; `fixed_1mib` and `slice_max_1mib` carry 8-byte requests and responses of a "
              "`std::array<std::byte, 1048576>` or of a `floe::Slice<std::byte>` of at most "
              "1 MiB (Slices, below), `slice_grown_64kib` 64 KiB responses of a slice of 4 KiB "
              "inline that its server grows past, all with "
              + (f"`{one_mib}`." if one_mib else "the limits in `bench/suite/cost_rows.cpp`."))
            w("")
            out += shm_table(shm_rows)
            w("")

    out += building_blocks(results)

    if len(results.placements) > 1:
        w("## Placements side by side")
        w("")
        w("Median of the rows run in more than one placement, and its ratio to the floor of the "
          "same placement (busy rows are not run on one core).")
        w("")
        names = {}
        for placement in results.placements:
            for row in results.rows[placement].values():
                if row.runs:
                    names.setdefault(row.name, set()).add(placement)
        shared = sorted((results.rows[next(iter(p))][n] for n, p in names.items() if len(p) > 1),
                        key=Row.key)
        lines = []
        for r in shared:
            cells = []
            for placement in results.placements:
                row = results.row(r.name, placement)
                counter = throughput_counter(r.workload)
                if row is None:
                    cells.append("–")
                elif counter:
                    cells.append(rate(row.median(counter)))
                else:
                    floor = FLOORS.get(family(r.mode))
                    share = divide(row.median("p50"),
                                   results.median(floor, placement=placement) if floor else None)
                    cells.append(ns(row.median("p50")) +
                                 (f" ({share:.2f}x)" if share is not None else ""))
            lines.append([f"`{r.name}`"] + cells)
        out += table(["row"] + [f"`{p}`" for p in results.placements], lines,
                     right=range(1, 1 + len(results.placements)))
        w("")

    absent, failed = {}, {}
    for placement in results.placements:
        for r in sorted(results.rows[placement].values(), key=Row.key):
            for error in r.errors:
                found_in = absent if error.startswith("not installed:") else failed
                found_in.setdefault((r.name, error), []).append(placement)
    if absent or failed:
        w("## Rows without figures")
        w("")
        for title, entries in (("why", absent), ("error", failed)):
            if not entries:
                continue
            if entries is failed:
                w("Failed repetitions (the figures of such a row above come from its other "
                  "repetitions, if any):")
                w("")
            lines = [[f"`{name}`", error, ", ".join(f"`{p}`" for p in dict.fromkeys(placements))]
                     for (name, error), placements in entries.items()]
            out += table(["row", title, "placements"], lines)
            w("")
    return "\n".join(out).rstrip() + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", nargs="+", help="floe_bench_suite JSON, one per placement")
    parser.add_argument("--docs", default="docs",
                        help="where BENCHMARKS.md and its plots go (default: docs)")
    args = parser.parse_args()

    results = Results([p for p in args.json if os.path.exists(p)])
    if results.main is None:
        print("report: none of these files holds results: " + " ".join(args.json),
              file=sys.stderr)
        return 1
    os.makedirs(args.docs, exist_ok=True)
    plots = make_plots(results, args.docs)
    found = targets(results)
    shown = [os.path.relpath(p) for p in args.json if os.path.exists(p)]
    path = os.path.join(args.docs, "BENCHMARKS.md")
    with open(path, "w") as file:
        file.write(document(results, found, plots, shown))

    print(f"targets ({results.main}):")
    for t in found:
        print(f"  {t.status:4}  {t.title}: {t.figure}")
    print(f"wrote {path}" + "".join(f", {os.path.join(args.docs, p)}" for p in sorted(plots)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
