"""Telling "no server" from "no answer": wait_for_server_async woken by a server's creation in
another process, PendingResponse.end_reason(), floe.call_async's errors."""

import asyncio
import os
import signal
import time

import pytest

import floe
from conftest import example, wait_until
from payloads import TransmissionData, open_service
from test_flow import read_line


def make_client():
    return open_service(floe.Node.create("client")).client_builder().create()


def test_a_server_created_later_by_another_process_wakes_the_wait_within_100_ms(domain,
                                                                                python_peer):
    peer = python_peer("late-server", 0.3)
    assert read_line(peer) == "ready"
    client = make_client()

    async def run():
        began = time.time()
        os.kill(peer.process.pid, signal.SIGUSR1)  # the peer creates its server 300 ms later
        found = await client.wait_for_server_async(10)
        return found, began, time.time()

    found, began, woke = asyncio.run(run())
    created = float(read_line(peer).split()[1])
    assert found
    assert created - began >= 0.29
    # The loop's safety recheck comes after a second: this wake-up was the server's ring.
    assert woke - created < 0.1, f"woke {woke - created:.3f} s after the server was created"
    peer.process.terminate()
    code, _, err = peer.finish()
    assert code == 0, err


def test_wait_for_server_async_is_false_after_its_timeout_and_true_at_once_with_a_server(domain):
    client = make_client()

    async def waits():
        started = time.monotonic()
        assert not await client.wait_for_server_async(0.1)
        assert 0.09 < time.monotonic() - started < 1
        server = open_service(floe.Node.create("server")).server_builder().create()
        started = time.monotonic()
        assert await client.wait_for_server_async(0)
        assert client.number_of_servers() == 1
        server.release()

    asyncio.run(waits())


def test_releasing_the_client_cancels_its_wait_for_a_server(domain):
    client = make_client()

    async def run():
        waiting = asyncio.ensure_future(client.wait_for_server_async(10))
        await asyncio.sleep(0.02)
        client.release()
        with pytest.raises(floe.Cancelled):
            await asyncio.wait_for(waiting, 1)

    asyncio.run(run())


def test_end_reason_tells_no_server_open_and_finished(domain):
    client = make_client()
    with client.send_copy(1) as nobody:
        assert nobody.end_reason() == floe.StreamEnd.NO_SERVER
        assert asyncio.run(nobody.receive_async()) is None
    server = open_service(floe.Node.create("server")).server_builder().create()
    with client.send_copy(2) as pending:
        active = server.receive()
        assert pending.end_reason() == floe.StreamEnd.OPEN
        assert active.send_copy(TransmissionData(1, 2, 3.0))
        active.release()
        with pending.receive() as response:
            assert response.payload().x == 1
        assert pending.receive() is None
        assert pending.end_reason() == floe.StreamEnd.FINISHED
    server.release()


def test_end_reason_is_server_gone_after_the_server_is_sigkilled(domain, start_peer):
    server = start_peer(example("request_response_server"), "--seconds", 20)
    client = make_client()
    wait_until(lambda: client.number_of_servers() > 0, 10, "a server")

    async def run():
        with client.send_copy(2) as pending:  # 1 response now, then 3 more 100 ms apart
            async for response in pending:
                response.release()
                if server.process.poll() is None:  # killed after its first response
                    assert pending.end_reason() == floe.StreamEnd.OPEN
                    server.process.kill()
                    server.process.wait(10)
            return pending.end_reason()

    assert asyncio.run(asyncio.wait_for(run(), 10)) == floe.StreamEnd.SERVER_GONE


def test_call_async_raises_no_server_timed_out_and_no_response(domain):
    client = make_client()

    async def calls():
        started = time.monotonic()
        with pytest.raises(floe.NoServer, match="no server"):
            await floe.call_async(client, 1, 0.1)
        assert 0.09 < time.monotonic() - started < 1
        server = open_service(floe.Node.create("server")).server_builder().create()

        async def serve(answer):
            active = await server.receive_async()
            if answer == "answer":
                active.send_copy(TransmissionData(active.payload().value, 7, 0.5))
                active.send_copy(TransmissionData(99, 99, 99.0))  # discarded by the call
            if answer != "hold":
                active.release()
            return active

        serving = asyncio.ensure_future(serve("answer"))
        response = await floe.call_async(client, 41, 5)
        with response:
            assert (response.payload().x, response.payload().y) == (41, 7)
        await serving

        serving = asyncio.ensure_future(serve("drop"))
        with pytest.raises(floe.NoResponse, match="without answering"):
            await floe.call_async(client, 42, 5)
        await serving

        serving = asyncio.ensure_future(serve("hold"))
        with pytest.raises(floe.TimedOut, match="no response"):
            await floe.call_async(client, 43, 0.2)
        (await serving).release()
        server.release()

    asyncio.run(asyncio.wait_for(calls(), 20))


def test_call_async_raises_no_response_when_the_server_dies_before_answering(domain,
                                                                             python_peer):
    peer = python_peer("late-server", 0)
    assert read_line(peer) == "ready"
    client = make_client()
    peer.process.send_signal(signal.SIGUSR1)
    assert read_line(peer).startswith("created")

    async def call_then_kill():
        call = asyncio.ensure_future(floe.call_async(client, 1, 10))
        # The peer never takes requests: the request waits in its queue until it dies.
        await asyncio.sleep(0.05)
        peer.process.kill()
        started = time.monotonic()
        with pytest.raises(floe.NoResponse, match="went away"):
            await call
        return time.monotonic() - started

    assert asyncio.run(call_then_kill()) < 1.5
