#!/usr/bin/env python3
"""The Python rows of the comparison suite: the round trip of a Python client and a Python server
over floe, next to what a Python program would otherwise use on one host.

    round_trip.py --json FILE [--filter REGEX]

Rows, named as floe_bench_suite's ("<workload>/<transport>/<mode>"), an 8-byte request answered
by one 8-byte response, as the suite's `round_trip` rows:

- `round_trip/python floe/polling`: both sides busy-poll, the client `pending.receive()`, the
  server `server.receive()`, in a loop;
- `round_trip/python floe/asyncio`: both sides asleep in an asyncio loop, the server in
  `await server.receive_async()`, the client in `await pending.receive_async()`, each woken by
  floe's notifier through the loop's own selector;
- `round_trip/python multiprocessing/blocking`: the baseline of the standard library,
  multiprocessing.connection over a Unix socket, `send_bytes` / `recv_bytes` blocking;
- `round_trip/python socket/asyncio`: the baseline of asyncio, a Unix socket through asyncio
  streams (`write`, `drain`, `readexactly`);
- `micro/python floe/send_receive`: the binding's own share, no peer process: client and server
  ports of one service in this process, send_copy, receive, echo, receive the response, release
  all (the counterpart of the suite's `micro/send_receive/one_process`), timed as a whole loop;
  `micro/python floe/send_receive_module` the same through the compiled module alone (none of
  the package's Python), `micro/python floe/payload_read` one `active.payload().value`.

The server is a process of its own (this script with --serve), the client this process, placed
as the suite places them (FLOE_BENCH_PLACEMENT: pinned, unpinned, one-core; polling rows are not
run on one core); FLOE_BENCH_QUICK=1 takes a twentieth of the samples. Each round trip is timed
on its own with time.perf_counter_ns after an untimed warmup of a tenth as many, giving the
percentiles the suite reports (p0 ... p100) and cpu_ns_per_op (user + system time of client and
server, warmup included, per timed round trip, as the suite counts it). The runs are appended to
FILE, Google Benchmark JSON (a pass of floe_bench_suite, see scripts/bench.sh), created if it does
not exist; without the floe package on sys.path the floe rows are recorded as "not installed",
which the report lists.
"""

import argparse
import asyncio
import ctypes
import json
import os
import random
import re
import resource
import select
import struct
import subprocess
import sys
import tempfile
import threading
import time

STOP = (1 << 64) - 1  # the request that ends a server, as the suite's kStopValue
STALL_SECONDS = 5  # no answer for this long: the row fails (the suite's StallWatchdog)
SERVICE = "Bench/RoundTrip"

# Row name -> samples of a full run. Fewer for the waiting rows: each takes tens of µs.
ROWS = {
    "round_trip/python floe/polling": 50_000,
    "round_trip/python floe/asyncio": 20_000,
    "round_trip/python multiprocessing/blocking": 20_000,
    "round_trip/python socket/asyncio": 20_000,
    "micro/python floe/send_receive": 50_000,
    "micro/python floe/send_receive_module": 50_000,
    "micro/python floe/payload_read": 200_000,
}


def placement():
    value = os.environ.get("FLOE_BENCH_PLACEMENT", "pinned")
    if value not in ("pinned", "unpinned", "one-core"):
        sys.exit(f"FLOE_BENCH_PLACEMENT: pinned, unpinned or one-core, not {value!r}")
    return value


def place(side):
    """Pins this process as the suite pins its client (cpu 0) or server (cpu 1; cpu 0 on one
    core)."""
    where = placement()
    if where == "unpinned":
        return
    os.sched_setaffinity(0, {1 if side == "server" and where == "pinned" else 0})


def quick():
    return os.environ.get("FLOE_BENCH_QUICK") == "1"


def samples(full):
    return max(200, full // 20) if quick() else full


def cpu_ns():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return int((usage.ru_utime + usage.ru_stime) * 1e9)


def import_floe():
    """The floe package, or None (it is built by the target floe_python into build*/python)."""
    try:
        import floe
    except ImportError:
        return None
    return floe


def open_floe_service(floe, create):
    node = floe.Node.create("bench-server" if not create else "bench-client")
    builder = node.service_builder(SERVICE).request_response(ctypes.c_uint64, ctypes.c_uint64)
    if create:
        builder = builder.max_clients(1).max_servers(1)
        return node, builder.create()
    return node, builder.open()


class OrphanCheck:
    """A server whose client is gone (killed) exits instead of polling forever."""

    def __init__(self):
        self.parent = os.getppid()

    def orphaned(self):
        return os.getppid() != self.parent


# --------------------------------------------------------------------------------------------
# Servers (this script with --serve ROW --address ADDRESS), each ready when it prints "ready"
# and its CPU time so far.


def ready():
    """Tells the client the server serves, and the CPU time its start-up took (the interpreter,
    the imports), which the row does not count: a forked C++ server has none."""
    print(f"ready {cpu_ns()}", flush=True)


def serve_floe_polling(address):
    floe = import_floe()
    _, service = open_floe_service(floe, create=False)
    server = service.server_builder().create()
    orphan = OrphanCheck()
    ready()
    spins = 0
    while True:
        active = server.receive()
        if active is None:
            spins += 1
            if spins & 0xFFFFF == 0 and orphan.orphaned():
                return 1
            continue
        value = active.payload().value
        active.send_copy(value)
        active.release()
        if value == STOP:
            return 0


def serve_floe_asyncio(address):
    floe = import_floe()
    _, service = open_floe_service(floe, create=False)
    server = service.server_builder().create()

    async def serve():
        orphan = OrphanCheck()
        loop = asyncio.get_running_loop()

        def check():
            if orphan.orphaned():
                os._exit(1)
            loop.call_later(1.0, check)

        check()
        ready()
        while True:
            active = await server.receive_async()
            value = active.payload().value
            active.send_copy(value)
            active.release()
            if value == STOP:
                return 0

    return asyncio.run(serve())


def serve_multiprocessing(address):
    from multiprocessing.connection import Listener
    with Listener(address, family="AF_UNIX") as listener:
        ready()
        with listener.accept() as connection:
            stop = struct.pack("<Q", STOP)
            while True:
                data = connection.recv_bytes()
                connection.send_bytes(data)
                if data == stop:
                    return 0


def serve_asyncio_socket(address):
    async def serve():
        done = asyncio.get_running_loop().create_future()
        stop = struct.pack("<Q", STOP)

        async def handle(reader, writer):
            while True:
                data = await reader.readexactly(8)
                writer.write(data)
                await writer.drain()
                if data == stop:
                    break
            writer.close()
            done.set_result(0)

        server = await asyncio.start_unix_server(handle, address)
        ready()
        async with server:
            return await done

    return asyncio.run(serve())


SERVERS = {
    "round_trip/python floe/polling": serve_floe_polling,
    "round_trip/python floe/asyncio": serve_floe_asyncio,
    "round_trip/python multiprocessing/blocking": serve_multiprocessing,
    "round_trip/python socket/asyncio": serve_asyncio_socket,
}


# --------------------------------------------------------------------------------------------
# Clients: each returns (latencies in ns of the timed round trips, client CPU ns).


class RowError(Exception):
    pass


class Server:
    """The server process of a row: started, awaited ready, and reaped with its CPU time."""

    def __init__(self, row, address, env):
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", row, "--address", address],
            stdout=subprocess.PIPE, env=env)
        line = b""
        if select.select([self.process.stdout], [], [], 20)[0]:
            line = self.process.stdout.readline()
        words = line.split()
        if len(words) != 2 or words[0] != b"ready":
            self.kill()
            raise RowError("the server did not start")
        self.startup_cpu_ns = int(words[1])
        self.cpu_ns = None

    def finish(self, timeout):
        """Waits for the server's exit; raises RowError unless it exits 0 within `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid == self.process.pid:
                break
            if time.monotonic() > deadline:
                self.kill()
                raise RowError("the server did not finish: killed")
            time.sleep(0.001)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        self.process.stdout.close()
        self.cpu_ns = int((usage.ru_utime + usage.ru_stime) * 1e9) - self.startup_cpu_ns
        if self.process.returncode != 0:
            raise RowError(f"the server failed (exit {self.process.returncode})")

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


class Watchdog:
    """Kills the server when the client made no progress for STALL_SECONDS (a blocking or
    asyncio client then sees its peer gone); a polling client checks stalled."""

    def __init__(self, server):
        self.progress = 0
        self.stalled = False
        self._server = server
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self):
        seen, last = self.progress, time.monotonic()
        while not self._done.wait(1.0):
            if self.progress != seen:
                seen, last = self.progress, time.monotonic()
            elif time.monotonic() - last > STALL_SECONDS:
                self.stalled = True
                if self._server.process.poll() is None:
                    self._server.process.kill()
                return

    def stop(self):
        self._done.set()
        self._thread.join()


def time_round_trips(count, warmup, round_trip, watchdog):
    """Calls round_trip(i) warmup + count times, timing each of the last count calls on its own,
    then round_trip(STOP), which ends the server. Returns (the count latencies in ns, the client's
    CPU time in ns over all but the stop)."""
    clock = time.perf_counter_ns
    before = cpu_ns()
    for i in range(warmup):
        expect_echo(round_trip(i), i)
    latencies = [0] * count
    for n in range(count):
        watchdog.progress = n
        start = clock()
        answer = round_trip(warmup + n)
        latencies[n] = clock() - start
        expect_echo(answer, warmup + n)
    used = cpu_ns() - before
    expect_echo(round_trip(STOP), STOP)
    return latencies, used


async def time_round_trips_async(count, warmup, round_trip, watchdog):
    """time_round_trips() for a coroutine round_trip(i)."""
    clock = time.perf_counter_ns
    before = cpu_ns()
    for i in range(warmup):
        expect_echo(await round_trip(i), i)
    latencies = [0] * count
    for n in range(count):
        watchdog.progress = n
        start = clock()
        answer = await round_trip(warmup + n)
        latencies[n] = clock() - start
        expect_echo(answer, warmup + n)
    used = cpu_ns() - before
    expect_echo(await round_trip(STOP), STOP)
    return latencies, used


def expect_echo(value, sent):
    if value != sent:
        raise RowError("a response that is not the echo")


# Each client starts its server with start_server(), which returns the row's Watchdog, and
# returns time_round_trips()'s (latencies, client CPU ns).


def client_floe_polling(count, warmup, address, start_server):
    floe = import_floe()
    _, service = open_floe_service(floe, create=True)
    watchdog = start_server()
    client = service.client_builder().create()

    def round_trip(value):
        pending = client.send_copy(value)
        spins = 0
        while True:
            response = pending.receive()
            if response is not None:
                break
            spins += 1
            if spins & 0xFFFF == 0 and watchdog.stalled:
                raise RowError(f"no answer for {STALL_SECONDS} s")
        answer = response.payload().value
        response.release()
        pending.release()
        return answer

    return time_round_trips(count, warmup, round_trip, watchdog)


def client_floe_asyncio(count, warmup, address, start_server):
    floe = import_floe()
    _, service = open_floe_service(floe, create=True)
    watchdog = start_server()
    client = service.client_builder().create()

    async def round_trip(value):
        pending = client.send_copy(value)
        response = await pending.receive_async()
        if response is None:
            raise RowError("the server ended the stream without answering")
        answer = response.payload().value
        response.release()
        pending.release()
        return answer

    return asyncio.run(time_round_trips_async(count, warmup, round_trip, watchdog))


def client_multiprocessing(count, warmup, address, start_server):
    from multiprocessing.connection import Client
    watchdog = start_server()
    with Client(address, family="AF_UNIX") as connection:
        def round_trip(value):
            connection.send_bytes(struct.pack("<Q", value))
            return struct.unpack("<Q", connection.recv_bytes())[0]

        return time_round_trips(count, warmup, round_trip, watchdog)


def client_asyncio_socket(count, warmup, address, start_server):
    watchdog = start_server()

    async def run():
        reader, writer = await asyncio.open_unix_connection(address)

        async def round_trip(value):
            writer.write(struct.pack("<Q", value))
            await writer.drain()
            return struct.unpack("<Q", await reader.readexactly(8))[0]

        result = await time_round_trips_async(count, warmup, round_trip, watchdog)
        writer.close()
        await writer.wait_closed()
        return result

    return asyncio.run(run())


def micro_send_receive(count, row):
    """The Python side of a round trip without a peer process, timed as a whole loop; client and
    server ports of one service in this process. send_receive: the calls of the round-trip rows
    (the counterpart of the suite's micro/send_receive/one_process); send_receive_module: the
    same through the compiled module _floe alone (pybind11 and the C++ cores, none of the
    package's Python: no message wrappers, no payload views); payload_read: one
    `active.payload().value` of a held request. Returns (wall ns, CPU ns) of count
    iterations."""
    floe = import_floe()
    _, service = open_floe_service(floe, create=True)
    server = service.server_builder().create()
    client = service.client_builder().create()

    def one(value):
        pending = client.send_copy(value)
        active = server.receive()
        active.send_copy(active.payload().value)
        active.release()
        response = pending.receive()
        expect_echo(response.payload().value, value)
        response.release()
        pending.release()

    # The binding's internals, on purpose: what the package's Python layer costs is the
    # difference.
    raw_client, raw_server, payload = client._raw, server._raw, ctypes.c_uint64(7)
    answer = floe._floe.response_send_copy_bounded  # what ActiveRequest.send_copy calls

    def one_module(_):
        pending = raw_client.send_copy(payload)
        active = raw_server.try_receive()
        answer(active, payload, floe.SEND_TIMEOUT_SECONDS)
        active.release()
        response = pending.try_receive()
        response.release()
        pending.release()

    held = None

    def read(_):
        return held.payload().value

    if row.endswith("/payload_read"):
        pending = client.send_copy(7)
        held, one = server.receive(), read
    elif row.endswith("/send_receive_module"):
        one = one_module
    for i in range(count // 10):
        one(i)
    wall, cpu = time.perf_counter_ns(), cpu_ns()
    for i in range(count):
        one(i)
    wall, cpu = time.perf_counter_ns() - wall, cpu_ns() - cpu
    if held is not None:
        held.release()
        pending.release()
    return wall, cpu


CLIENTS = {
    "round_trip/python floe/polling": client_floe_polling,
    "round_trip/python floe/asyncio": client_floe_asyncio,
    "round_trip/python multiprocessing/blocking": client_multiprocessing,
    "round_trip/python socket/asyncio": client_asyncio_socket,
}


# --------------------------------------------------------------------------------------------
# Rows as Google Benchmark runs


PERCENTILES = [("p0", 0.0), ("p10", 0.10), ("p25", 0.25), ("p50", 0.50), ("p75", 0.75),
               ("p90", 0.90), ("p99", 0.99), ("p99_9", 0.999), ("p100", 1.0)]


def run_record(row, count):
    """A run as floe_bench_suite's JSON has it, without figures."""
    suffix = "" if row.startswith("micro/") else "/manual_time"
    return {"name": f"{row}/iterations:{count}{suffix}", "run_name": row,
            "run_type": "iteration", "repetitions": 1, "repetition_index": 0, "threads": 1,
            "iterations": count, "time_unit": "ns"}


def measure(row, count, floe_found):
    """One row's run: figures, or error_occurred with why."""
    record = run_record(row, count)
    if "python floe" in row and not floe_found:
        record.update(error_occurred=True, error_message=(
            "not installed: the Python package floe is not built (CMake target floe_python, "
            "FLOE_BUILD_PYTHON=ON; needs python3-dev and pybind11-dev)"))
        record.update(real_time=0, cpu_time=0)
        return record
    warmup = count // 10
    if row.startswith("micro/"):
        os.environ["FLOE_DOMAIN"] = f"benchpy{os.getpid()}_{random.randrange(1 << 30)}"
        try:
            wall, cpu = micro_send_receive(count, row)
        except Exception as error:
            record.update(error_occurred=True, error_message=str(error) or repr(error),
                          real_time=0, cpu_time=0)
            return record
        record.update(real_time=wall / count, cpu_time=cpu / count)
        return record
    with tempfile.TemporaryDirectory(prefix="floe-bench-python-") as directory:
        tag = f"{os.getpid()}-{random.randrange(1 << 30)}"
        address = os.path.join(directory, "socket")
        env = dict(os.environ, FLOE_DOMAIN=f"benchpy{tag.replace('-', '_')}")
        os.environ["FLOE_DOMAIN"] = env["FLOE_DOMAIN"]
        server, watchdog = None, None

        def start_server():
            nonlocal server, watchdog
            server = Server(row, address, env)
            watchdog = Watchdog(server)
            return watchdog

        try:
            latencies, client_cpu = CLIENTS[row](count, warmup, address, start_server)
            watchdog.stop()
            server.finish(timeout=30)
        except Exception as error:  # a peer's failure fails its row, not the run
            if watchdog is not None:
                watchdog.stop()
            if server is not None:
                server.kill()
            why = str(error) if isinstance(error, RowError) else f"{type(error).__name__}: {error}"
            record.update(error_occurred=True, error_message=why, real_time=0, cpu_time=0)
            return record
    latencies.sort()
    record["real_time"] = sum(latencies) / count
    record["cpu_time"] = client_cpu / count
    for counter, q in PERCENTILES:
        record[counter] = float(latencies[int(q * (count - 1))])
    record["cpu_ns_per_op"] = (client_cpu + server.cpu_ns) / count
    return record


def context():
    """The context of a file this script creates (scripts/bench.sh appends to the suite's)."""
    return {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "placement": placement(),
            "quick": "1" if quick() else "0",
            "commit": os.environ.get("FLOE_BENCH_COMMIT", "unknown"),
            "num_cpus": os.cpu_count(), "load_avg": list(os.getloadavg())}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="Google Benchmark JSON to append the runs to")
    parser.add_argument("--filter", default=".",
                        help="run the rows whose name (plus \"/\") this regex matches")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--address", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        place("server")
        return SERVERS[args.serve](args.address)
    if not args.json:
        parser.error("--json FILE is required")

    place("client")
    floe_found = import_floe() is not None
    if not floe_found:
        print("round_trip.py: the Python package floe is not built (CMake target floe_python): "
              "its rows are recorded as not installed", file=sys.stderr)
    pattern = re.compile(args.filter)
    rows = [row for row in ROWS if pattern.search(row + "/")]
    if placement() == "one-core":
        rows = [row for row in rows if not row.endswith("/polling")]
    random.shuffle(rows)  # as the suite interleaves its rows, so drift hits every row alike
    runs = []
    for row in rows:
        record = measure(row, samples(ROWS[row]), floe_found)
        shown = record.get("error_message") or (
            f"{record['real_time']:.0f} ns per iteration" if row.startswith("micro/") else
            f"median {record['p50'] / 1e3:.1f} us, p99 {record['p99'] / 1e3:.1f} us")
        print(f"{row:45} {shown}", flush=True)
        runs.append(record)

    data = {"context": context(), "benchmarks": []}
    if os.path.exists(args.json):
        with open(args.json) as file:
            data = json.load(file)
    data["benchmarks"] += runs
    with open(args.json, "w") as file:
        json.dump(data, file, indent=2)
    return 0  # a row that failed says so in the JSON, as the suite's rows do


if __name__ == "__main__":
    sys.exit(main())
