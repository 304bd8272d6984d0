"""Request-response server, step by step as in iceoryx2's Python example: each cycle it takes
the requests that arrived, answers each with one response by copy and (request % 3) + 1 loaned
responses written in place, then drops it, which ends the client's stream. Synchronous: it looks
once per cycle (server_async.py waits instead). Ends after --seconds N (default 5)."""

import argparse
import time

from transmission_data import TransmissionData, open_service

CYCLE_TIME = 0.1

parser = argparse.ArgumentParser()
parser.add_argument("--seconds", type=float, default=5)
deadline = time.monotonic() + parser.parse_args().seconds

service = open_service("python-request-response-server")
server = service.server_builder().create()
print("server ready")

counter = 0
while time.monotonic() < deadline:
    time.sleep(CYCLE_TIME)
    while (active := server.receive()) is not None:
        with active:  # leaving the block ends the client's stream
            value = active.payload().value
            print(f"received request {value}, send response by copy")
            active.send_copy(TransmissionData(5 + counter, 6 * counter, 789.123 * counter))
            for n in range(value % 3 + 1):
                with active.loan() as response:
                    data = response.payload()  # a TransmissionData in shared memory
                    data.x = counter
                    data.y = n
                    data.funky = 0.5 * n
                    response.send()
            counter += 1
print("exit")
