"""Request-response client, step by step as in iceoryx2's Python example: a first request by
copy, then a loaned request each cycle written in place, printing every response of the
previous request's stream. Synchronous: it looks once per cycle (client_async.py waits instead).
Ends after --seconds N (default 3); exits 1 if no response came at all."""

import argparse
import ctypes
import sys
import time

from transmission_data import open_service

CYCLE_TIME = 0.2

parser = argparse.ArgumentParser()
parser.add_argument("--seconds", type=float, default=3)
deadline = time.monotonic() + parser.parse_args().seconds

service = open_service("python-request-response-client")
client = service.client_builder().create()

request_counter = 0
responses = 0
pending = client.send_copy(ctypes.c_uint64(request_counter))
print(f"send request {request_counter} ...")

while time.monotonic() < deadline:
    time.sleep(CYCLE_TIME)
    while (response := pending.receive()) is not None:
        responses += 1
        with response:
            data = response.payload()
            print(f"  received response {request_counter}: x={data.x} y={data.y} "
                  f"funky={data.funky:.3f}")

    request_counter += 1
    request = client.loan()
    request.payload().value = request_counter  # written in place, in shared memory
    pending = request.send()
    print(f"send request {request_counter} ...")
print(f"exit: {request_counter + 1} requests, {responses} responses")
if responses == 0:
    sys.exit("client: no response came; is a server running?")
