"""Flow control in real processes: Backpressure.BLOCK servers stream losslessly (Python and C++
on either side), a stalled client holds up only its own stream, cancelled sends take nothing."""

import asyncio
import ctypes
import os
import select
import signal
import threading
import time

import pytest

import floe
from conftest import example, wait_until
from payloads import open_service
from peer import open_stream_service

STREAM = 100_000


def stream_client():
    return open_stream_service(floe.Node.create("client")).client_builder().create()


_unread = {}


def read_line(peer, timeout=10):
    """The peer's next line of output, waiting at most `timeout` seconds."""
    fd = peer.process.stdout.fileno()
    buffered = _unread.get(peer, b"")
    deadline = time.monotonic() + timeout
    while b"\n" not in buffered:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            pytest.fail(f"no line from the peer within {timeout} s (so far: {buffered!r})")
        chunk = os.read(fd, 4096)
        if not chunk:
            pytest.fail(f"the peer closed its output (so far: {buffered!r})")
        buffered += chunk
    line, _unread[peer] = buffered.split(b"\n", 1)
    return line.decode().strip()


def stop(peer):
    """Ends a server peer with SIGTERM, as its user would, so it removes what it created."""
    peer.process.terminate()
    code, _, err = peer.finish()
    assert code == 0, err


async def receive_stream(pending):
    """Every number of the stream with `async for`; fails at the first out of order."""
    expected = 0
    async for response in pending:
        with response:
            assert response.payload().value == expected
        expected += 1
    return expected


def stream_from_server(client, count, timeout=60):
    async def run():
        assert await client.wait_for_server_async(10)
        with client.send_copy(count) as pending:
            received = await asyncio.wait_for(receive_stream(pending), timeout)
            assert pending.end_reason() == floe.StreamEnd.FINISHED
            return received
    return asyncio.run(run())


def test_a_python_block_server_streams_100k_in_order_to_python_async_for(domain, python_peer):
    server = python_peer("stream-server")
    assert read_line(server) == "ready"
    assert stream_from_server(stream_client(), STREAM) == STREAM
    assert read_line(server) == f"streamed {STREAM}"
    stop(server)


def test_a_cpp_block_server_streams_100k_in_order_to_python_async_for(domain, start_peer):
    server = start_peer(example("streaming_server"), "--seconds", 60)
    assert stream_from_server(stream_client(), STREAM) == STREAM
    stop(server)


def test_a_python_block_server_streams_100k_in_order_to_the_cpp_client(domain, python_peer,
                                                                      start_peer):
    server = python_peer("stream-server")
    assert read_line(server) == "ready"
    code, out, err = start_peer(example("streaming_client"), "--count", STREAM).finish(60)
    assert code == 0, err
    assert f"{STREAM} numbers from 1 server(s)" in out and "all in order" in out
    assert read_line(server) == f"streamed {STREAM}"
    stop(server)


def test_a_synchronous_block_server_streams_100k_in_order_to_the_cpp_client(domain, start_peer):
    # Its sends wait for room with the GIL released, asleep in floe's reactor: woken by the
    # client taking responses, never timing out while the client reads.
    server = (open_stream_service(floe.Node.create("server")).server_builder()
              .backpressure(floe.Backpressure.BLOCK).create())
    client = start_peer(example("streaming_client"), "--count", STREAM)
    wait_until(server.has_requests, 10, "the C++ client's request")
    with server.receive() as active:
        assert active.payload().value == STREAM
        for n in range(STREAM):
            assert active.send_copy(n, timeout=10)
    code, out, err = client.finish(60)
    assert code == 0, err
    assert f"{STREAM} numbers from 1 server(s)" in out and "all in order" in out


def test_a_synchronous_send_waiting_for_room_ends_when_the_client_is_sigkilled(domain,
                                                                              python_peer):
    server = (open_stream_service(floe.Node.create("server")).server_builder()
              .backpressure(floe.Backpressure.BLOCK).create())
    client = python_peer("stream-client", 10 * STREAM)
    wait_until(server.has_requests, 10, "the client's request")
    os.kill(client.process.pid, signal.SIGSTOP)  # it reads nothing from here on
    with server.receive() as active:
        killer = threading.Timer(0.5, client.process.kill)
        killer.start()
        started = time.monotonic()
        sent = 0
        while active.send_copy(sent, timeout=10):
            sent += 1
        killer.join()
        assert sent == 256  # the client's buffer (max_response_buffer_size)
        assert time.monotonic() - started < 2  # its death woke the send, not the timeout


def test_a_stalled_client_holds_up_only_its_own_stream(domain, python_peer):
    server = python_peer("stream-server")
    assert read_line(server) == "ready"
    stalled = python_peer("stream-client", 10 * STREAM)
    assert read_line(stalled) == "first"
    os.kill(stalled.process.pid, signal.SIGSTOP)
    try:
        # The stalled stream's buffer fills, its send waits; the other streams go on.
        assert stream_from_server(stream_client(), STREAM, timeout=60) == STREAM
        assert stream_from_server(stream_client(), STREAM, timeout=60) == STREAM
    finally:
        os.kill(stalled.process.pid, signal.SIGCONT)
    stalled.kill()
    # Both other streams ended; the server's waiting send ends once the stalled client is gone.
    lines = [read_line(server) for _ in range(3)]
    assert lines.count(f"streamed {STREAM}") == 2
    assert lines[-1].startswith("client left after"), lines
    stop(server)


def block_pair(buffer=4, loans=8):
    service = (floe.Node.create("n").service_builder("Flow/Block")
               .request_response(ctypes.c_uint64, ctypes.c_uint64)
               .max_response_buffer_size(buffer)
               .enable_safe_overflow_for_responses(False)
               .max_loaned_responses_per_request(loans)
               .create())
    server = service.server_builder().backpressure(floe.Backpressure.BLOCK).create()
    client = service.client_builder().create()
    return server, client


def drain(pending):
    values = []
    while (response := pending.receive()) is not None:
        values.append(response.payload().value)
        response.release()
    return values


def test_a_cancelled_send_async_takes_nothing(domain):
    server, client = block_pair(buffer=4, loans=8)

    async def run():
        pending = client.send_copy(0)
        active = server.receive()
        for n in range(4):  # fills the client's buffer
            assert await active.send_copy_async(n)
        # More cancelled sends than there are loans: each gave its chunk back.
        for attempt in range(20):
            task = asyncio.ensure_future(active.send_copy_async(1000 + attempt))
            for _ in range(attempt % 3 + 1):
                await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(active.send_copy_async(2000), 0.05)
        assert drain(pending) == [0, 1, 2, 3]
        assert await active.send_copy_async(4)
        active.release()
        rest = []
        async for response in pending:
            rest.append(response.payload().value)
            response.release()
        return rest

    assert asyncio.run(run()) == [4]


def test_a_send_async_wakes_when_the_client_makes_room(domain):
    server, client = block_pair(buffer=4, loans=8)

    async def run():
        pending = client.send_copy(0)
        active = server.receive()

        async def produce():
            for n in range(1000):
                assert await active.send_copy_async(n)
            active.release()

        async def consume():
            values = []
            async for response in pending:
                values.append(response.payload().value)
                response.release()
            return values

        producer = asyncio.ensure_future(produce())
        values = await asyncio.wait_for(consume(), 10)
        await producer
        return values

    assert asyncio.run(run()) == list(range(1000))


def test_a_sync_send_under_block_gives_up_after_its_timeout(domain):
    server, client = block_pair(buffer=4, loans=8)
    pending = client.send_copy(0)
    active = server.receive()
    for n in range(4):
        assert active.send_copy(n)
    started = time.monotonic()
    with pytest.raises(floe.TimedOut, match="no room"):
        active.send_copy(99, timeout=0.2)
    assert 0.15 < time.monotonic() - started < 2
    assert drain(pending) == [0, 1, 2, 3]
    assert active.send_copy(4, timeout=1)  # room again; the timed-out loan came back
    assert drain(pending) == [4]


def test_backpressure_takes_only_floe_backpressure(domain):
    service = open_service(floe.Node.create("n"))
    with pytest.raises(TypeError):
        service.server_builder().backpressure("block")


def test_loan_async_waits_for_a_free_chunk_and_send_async_for_a_free_channel(domain):
    service = open_service(floe.Node.create("n"), max_loaned_requests=1,
                           max_active_requests_per_client=1)
    server = service.server_builder().create()
    client = service.client_builder().create()

    async def run():
        first = await client.loan_async()
        waiting_loan = asyncio.ensure_future(client.loan_async())
        await asyncio.sleep(0.02)
        assert not waiting_loan.done()
        pending = await first.send_async()
        assert server.receive() is not None  # the first request
        second = await asyncio.wait_for(waiting_loan, 5)
        second.payload().value = 7
        waiting_send = asyncio.ensure_future(second.send_async())
        await asyncio.sleep(0.02)
        assert not waiting_send.done()
        pending.release()
        pending = await asyncio.wait_for(waiting_send, 5)
        active = server.receive()
        assert active.payload().value == 7
        # Cancelled while waiting for a channel: the request is not sent, the loan is back.
        blocked = asyncio.ensure_future((await client.loan_async()).send_async())
        await asyncio.sleep(0.02)
        blocked.cancel()
        with pytest.raises(asyncio.CancelledError):
            await blocked
        assert server.receive() is None
        with await asyncio.wait_for(client.loan_async(), 1):
            pass
        pending.release()

    asyncio.run(run())
