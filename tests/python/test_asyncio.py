"""asyncio: `await server.receive_async()` and `async for response in pending`, woken through
the loop's own selector, in real processes; cancellation takes nothing."""

import asyncio
import random
import time

import floe
from conftest import example, wait_until
from payloads import open_service
from test_request_response import expected_stream


async def stream_of(pending):
    responses = []
    async for response in pending:
        with response:
            payload = response.payload()
            responses.append((payload.x, payload.y, payload.funky))
    return responses


def ask_async(client, numbers):
    """Sends each number in turn and gathers its stream with `async for`."""
    async def run():
        streams = []
        for number in numbers:
            with client.send_copy(number) as pending:
                streams.append(await asyncio.wait_for(stream_of(pending), 10))
        return streams
    return asyncio.run(run())


def test_async_for_receives_the_streams_of_an_asyncio_python_server(domain, python_peer):
    server = python_peer("async-server", 3)
    client = open_service(floe.Node.create("client")).client_builder().create()
    wait_until(lambda: client.number_of_servers() > 0, 10, "a server")
    streams = ask_async(client, [0, 1, 2])
    assert streams == [expected_stream(n, n) for n in range(3)]
    code, out, err = server.finish()
    assert code == 0, err
    assert out.splitlines() == ["ready"] + [f"answered request {n}" for n in range(3)]


def test_async_for_receives_the_streams_of_the_cpp_example_server(domain, start_peer):
    server = start_peer(example("request_response_server"), "--seconds", 20)
    client = open_service(floe.Node.create("client")).client_builder().create()
    wait_until(lambda: client.number_of_servers() > 0, 10, "a server")
    # The C++ server sends its loaned responses 100 ms apart: the loop sleeps in between.
    assert ask_async(client, [2, 5]) == [expected_stream(2, 0), expected_stream(5, 1)]
    server.kill()


def test_sigkill_of_the_server_ends_async_for_within_100_ms(domain, start_peer):
    server = start_peer(example("request_response_server"), "--seconds", 20)
    client = open_service(floe.Node.create("client")).client_builder().create()
    wait_until(lambda: client.number_of_servers() > 0, 10, "a server")

    async def run():
        with client.send_copy(2) as pending:  # 1 response now, then 3 more 100 ms apart
            first = await asyncio.wait_for(pending.receive_async(), 10)
            assert first is not None
            first.release()
            server.process.kill()
            killed = time.monotonic()
            rest = await asyncio.wait_for(stream_of(pending), 10)
            return rest, time.monotonic() - killed
    rest, elapsed = asyncio.run(run())
    assert elapsed < 0.1, f"async for ended {elapsed:.3f} s after the SIGKILL"
    assert len(rest) <= 3


def test_a_cancelled_receive_takes_nothing(domain):
    service = open_service(floe.Node.create("n"), max_active_requests_per_client=64)
    server = service.server_builder().create()
    client = service.client_builder().create()
    rng = random.Random(7)

    async def run():
        # Timed out with nothing there: no request is lost later either.
        try:
            await asyncio.wait_for(server.receive_async(), 0.05)
            raise AssertionError("received a request nobody sent")
        except asyncio.TimeoutError:
            pass
        received, pendings = [], []
        for number in range(200):
            task = asyncio.ensure_future(server.receive_async())
            await asyncio.sleep(0)  # the task now waits in the loop's reactor
            pendings.append(client.send_copy(number))
            for _ in range(rng.randrange(3)):
                await asyncio.sleep(0)
            task.cancel()
            try:
                active = await task
                received.append(active.payload().value)
                active.release()
            except asyncio.CancelledError:
                pass
            while (active := server.receive()) is not None:
                received.append(active.payload().value)
                active.release()
            pendings.pop().release()
        return received

    assert asyncio.run(run()) == list(range(200))
