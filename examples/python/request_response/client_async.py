"""The request-response client in asyncio: each request's stream is read with
`async for response in pending`, which sleeps in the event loop until a response arrives and
ends when every server ended its stream. Ends after --seconds N (default 3); exits 1 if no
response came at all."""

import argparse
import asyncio
import sys
import time

from transmission_data import open_service


async def main(seconds: float) -> int:
    deadline = time.monotonic() + seconds
    service = open_service("python-request-response-client")
    client = service.client_builder().create()
    request_counter = 0
    responses = 0
    while time.monotonic() < deadline:
        with client.loan() as request:
            request.payload().value = request_counter
            pending = request.send()
        print(f"sent request {request_counter} to {pending.number_of_server_connections()} "
              "server(s)")
        # Bounded: a server that hangs without dying must not hang the client.
        async with asyncio.timeout(5):
            with pending:
                async for response in pending:
                    responses += 1
                    with response:
                        data = response.payload()
                        print(f"  response to request {request_counter}: x={data.x} "
                              f"y={data.y} funky={data.funky:.3f}")
        request_counter += 1
        await asyncio.sleep(0.2)  # paces the demo; the waits above are not on a cycle
    print(f"client done: {request_counter} requests, {responses} responses")
    return responses


parser = argparse.ArgumentParser()
parser.add_argument("--seconds", type=float, default=3)
if asyncio.run(main(parser.parse_args().seconds)) == 0:
    sys.exit("client: no response came; is a server running?")
