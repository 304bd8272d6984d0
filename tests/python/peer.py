"""A Python peer for the tests, run as a process of its own.

    peer.py server N   serves N requests as the C++ example server does, then exits 0: a first
                       response by copy, then (request % 3) + 1 loaned ones, then the stream
                       ends. Exits 1 if no N requests came within 10 s.
    peer.py async-server N   the same, waiting with `await server.receive_async()`; N = 0
                             serves until SIGTERM (at most 30 s).
"""

import asyncio
import itertools
import signal
import sys
import time

import floe
from payloads import TransmissionData, open_service


def make_server():
    return open_service(floe.Node.create("python-peer-server")).server_builder().create()


def answer(active, counter):
    """One request's stream, as the C++ example server answers it."""
    with active:
        value = active.payload().value
        active.send_copy(TransmissionData(5 + counter, 6 * counter, 789.123 * counter))
        for n in range(value % 3 + 1):
            with active.loan() as response:
                payload = response.payload()
                payload.x = counter
                payload.y = n
                payload.funky = 0.5 * n
                response.send()
    print(f"answered request {value}", flush=True)


def serve(requests):
    server = make_server()
    deadline = time.monotonic() + 10
    for counter in range(requests):
        while (active := server.receive()) is None:
            if time.monotonic() > deadline:
                print(f"served {counter} of {requests} requests", file=sys.stderr)
                return 1
            time.sleep(0.001)
        answer(active, counter)
    return 0


async def serve_async(requests):
    server = make_server()
    print("ready", flush=True)
    if requests == 0:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, sys.exit, 0)
    timeout = 30 if requests == 0 else 10
    for counter in itertools.count() if requests == 0 else range(requests):
        answer(await asyncio.wait_for(server.receive_async(), timeout), counter)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["server"]:
        sys.exit(serve(int(sys.argv[2])))
    if sys.argv[1:2] == ["async-server"]:
        sys.exit(asyncio.run(serve_async(int(sys.argv[2]))))
    sys.exit(f"usage: {sys.argv[0]} server N | async-server N")
