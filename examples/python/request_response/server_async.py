"""The request-response server in asyncio, as the C++ example server does it: it sleeps in the
event loop until a request arrives (`await server.receive_async()`, woken by the client's
notification through the loop's own selector), and answers each request in a task of its own,
its loaned responses 100 ms apart. Ends after --seconds N (default 5)."""

import argparse
import asyncio
import ctypes

import floe

from transmission_data import TransmissionData, open_service


async def answer(active: floe.ActiveRequest[ctypes.c_uint64, TransmissionData],
                 counter: int) -> None:
    with active:  # leaving the block ends the client's stream
        value = active.payload().value
        print(f"received request {value}, send response by copy")
        active.send_copy(TransmissionData(5 + counter, 6 * counter, 789.123 * counter))
        for n in range(value % 3 + 1):
            await asyncio.sleep(0.1)
            if not active.is_connected():
                print(f"  client of request {value} stopped listening")
                return
            with active.loan() as response:
                data = response.payload()
                data.x, data.y, data.funky = counter, n, 0.5 * n
                response.send()


async def serve(server: floe.Server[ctypes.c_uint64, TransmissionData]) -> None:
    tasks: set[asyncio.Task[None]] = set()
    counter = 0
    while True:
        task = asyncio.create_task(answer(await server.receive_async(), counter))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        counter += 1


async def main(seconds: float) -> None:
    service = open_service("python-request-response-server")
    server = service.server_builder().create()
    print("server ready", flush=True)
    try:
        await asyncio.wait_for(serve(server), seconds)
    except asyncio.TimeoutError:
        pass
    print("server done")


parser = argparse.ArgumentParser()
parser.add_argument("--seconds", type=float, default=5)
asyncio.run(main(parser.parse_args().seconds))
