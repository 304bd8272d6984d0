"""A Python peer for the tests, run as a process of its own.

    peer.py server N   serves N requests as the C++ example server does, then exits 0: a first
                       response by copy, then (request % 3) + 1 loaned ones, then the stream
                       ends. Exits 1 if no N requests came within 10 s.
    peer.py async-server N   the same, waiting with `await server.receive_async()`; N = 0
                             serves until SIGTERM (at most 30 s).
    peer.py header-server N  serves N requests as tests/python/cpp_peer.cpp's header-server
                             does (user headers, attributes origin=python and version=1).
    peer.py stream-server    the streaming example's server in Python (Backpressure.BLOCK):
                             answers each request for `count` numbers with a stream of them,
                             one task per request, `await send_copy_async(n)`; until SIGTERM
                             (at most 60 s).
    peer.py stream-client N  asks the streaming servers for N numbers and reads them with
                             `async for`, printing "first" at the first; exits 0 once all came in
                             order.
    peer.py slice-server N   creates tests/python/cpp_peer.cpp's slice service, prints "ready",
                             then answers N requests as its slice-server does: one response of
                             a Sample per request byte, loaned in place.
    peer.py late-server D    prints "ready", waits for SIGUSR1, sleeps D seconds, creates a
                             server of the seed's service and prints "created <time.time()>";
                             then waits for SIGTERM (at most 30 s).
"""

import asyncio
import ctypes
import itertools
import signal
import sys
import time

import floe
from payloads import (TransmissionData, header_service_builder, open_service, sample_answer,
                      slice_service_builder)


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


def serve(requests, server=None, answer_one=answer):
    """Answers `requests` requests with answer_one(active, counter); 1 if they did not all come
    within 10 s."""
    server = server or make_server()
    deadline = time.monotonic() + 10
    for counter in range(requests):
        while (active := server.receive()) is None:
            if time.monotonic() > deadline:
                print(f"served {counter} of {requests} requests", file=sys.stderr)
                return 1
            time.sleep(0.001)
        answer_one(active, counter)
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


def serve_with_headers(requests):
    attributes = floe.AttributeSpecifier().define("origin", "python").define("version", "1")
    service = header_service_builder(floe.Node.create("python-header-server")).attributes(
        attributes).create()
    server = service.server_builder().create()
    print("ready", flush=True)
    return serve(requests, server, echo_with_headers)


def echo_with_headers(active, _counter):
    with active, active.loan() as response:
        tag, value = active.user_header(), active.payload().value
        response.user_header().echoed_tag = tag.tag + 1
        response.user_header().request_value = value
        response.payload().value = 2 * value
        response.send()
        print(f"request {value} tag {tag.tag} weight {tag.weight:.2f}", flush=True)

def serve_slices(requests):
    service = slice_service_builder(floe.Node.create("python-slice-server")).create()
    server = service.server_builder().create()
    print("ready", flush=True)
    return serve(requests, server, answer_slice)


def answer_slice(active, _counter):
    with active:
        samples = sample_answer(active.copy_payload())
        with active.loan_slice(len(samples)) as response:
            payload = response.payload()
            for index, (weight, sample_index, value) in enumerate(samples):
                payload[index].weight = weight
                payload[index].index = sample_index
                payload[index].value = value
            response.send()
    print(f"request of {len(samples)} bytes", flush=True)


def open_stream_service(node):
    """examples/streaming/stream_service.hpp's service."""
    return (node.service_builder("Examples/Streaming")
            .request_response(ctypes.c_uint64, ctypes.c_uint64)
            .max_response_buffer_size(256)
            .enable_safe_overflow_for_responses(False)
            .max_clients(8)
            .max_servers(4)
            .open_or_create())


async def stream(active):
    with active:
        count = active.payload().value
        for n in range(count):
            if not await active.send_copy_async(n):
                print(f"client left after {n}", flush=True)
                return
    print(f"streamed {count}", flush=True)


async def stream_server():
    service = open_stream_service(floe.Node.create("python-stream-server"))
    server = service.server_builder().backpressure(floe.Backpressure.BLOCK).create()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, sys.exit, 0)
    print("ready", flush=True)
    streams = set()
    while True:
        active = await asyncio.wait_for(server.receive_async(), 60)
        task = asyncio.ensure_future(stream(active))
        streams.add(task)
        task.add_done_callback(streams.discard)


async def stream_client(count):
    client = open_stream_service(floe.Node.create("python-stream-client")).client_builder().create()
    if not await client.wait_for_server_async(10):
        return "no streaming server"
    with client.send_copy(count) as pending:
        expected = 0
        async for response in pending:
            with response:
                if response.payload().value != expected:
                    return f"got {response.payload().value}, expected {expected}"
            if expected == 0:
                print("first", flush=True)
            expected += 1
    print(f"received {expected}", flush=True)
    return 0 if expected == count else f"received {expected} of {count}"


def late_server(delay):
    node = floe.Node.create("python-late-server")
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM})
    print("ready", flush=True)
    if signal.sigtimedwait({signal.SIGUSR1}, 30) is None:
        return "no SIGUSR1 came"
    time.sleep(delay)
    server = open_service(node).server_builder().create()
    print(f"created {time.time()}", flush=True)
    signal.sigtimedwait({signal.SIGTERM}, 30)
    server.release()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["stream-server"]:
        sys.exit(asyncio.run(stream_server()))
    if sys.argv[1:2] == ["stream-client"]:
        sys.exit(asyncio.run(stream_client(int(sys.argv[2]))))
    if sys.argv[1:2] == ["late-server"]:
        sys.exit(late_server(float(sys.argv[2])))
    if sys.argv[1:2] == ["server"]:
        sys.exit(serve(int(sys.argv[2])))
    if sys.argv[1:2] == ["async-server"]:
        sys.exit(asyncio.run(serve_async(int(sys.argv[2]))))
    if sys.argv[1:2] == ["header-server"]:
        sys.exit(serve_with_headers(int(sys.argv[2])))
    if sys.argv[1:2] == ["slice-server"]:
        sys.exit(serve_slices(int(sys.argv[2])))
    sys.exit(f"usage: {sys.argv[0]} server N | async-server N | header-server N | slice-server N "
             "| stream-server | stream-client N | late-server D")
