"""The other side of test_composition.py, run as a process of its own.

    compose_peer.py wake SERVICES REQUESTS SEED
        The peer of many waits on one loop: a client of each service Compose/<i> (i below
        SERVICES) and the server of Compose/Answer. Prints "ready", waits for "go" on stdin and
        for REQUESTS requests, then, in an order shuffled by SEED: sends request i to
        Compose/<i>, and answers each request with one response (x = its value) and ends its
        stream. Prints "done" and exits 0 at "end" (or the end of stdin); 1 after 10 s without
        the requests.
    compose_peer.py stream-server
        An asyncio server of Compose/Stream: request n is answered with n responses (x = 0 to
        n-1) as fast as it goes, the loop serving other requests between every 16 of them.
        Prints "ready"; serves until SIGTERM (at most 30 s).
    compose_peer.py send COUNT SEED
        A client of Compose/0 that waits for its server, sends requests 0 to COUNT-1 at random
        moments (SEED), prints "sent", and holds them open until stdin ends.
    compose_peer.py client N
        A client of Compose/Stream that sends request N, prints "sent", then never reads;
        exits 0 on SIGTERM.
"""

import asyncio
import ctypes
import random
import signal
import sys
import time

import floe
from payloads import TransmissionData

LIMITS = {"max_clients": 8, "max_servers": 2, "max_active_requests_per_client": 64,
          "max_response_buffer_size": 8, "enable_safe_overflow_for_responses": 0}


def compose_service(node, name):
    """Compose/<name>: the example's payload types, many requests open per client, responses
    discarded (not overwritten) when a client's buffer is full."""
    builder = node.service_builder(f"Compose/{name}").request_response(ctypes.c_uint64,
                                                                         TransmissionData)
    for limit, value in LIMITS.items():
        getattr(builder, limit)(value)
    return builder.open_or_create()


def wake(services, requests, seed):
    node = floe.Node.create("compose-peer")
    clients = [compose_service(node, i).client_builder().create() for i in range(services)]
    server = compose_service(node, "Answer").server_builder().create()
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    received = []
    deadline = time.monotonic() + 10
    while len(received) < requests:
        if (active := server.receive()) is not None:
            received.append(active)
        elif time.monotonic() > deadline:
            print(f"received {len(received)} of {requests} requests", file=sys.stderr)
            return 1
        else:
            time.sleep(0.001)
    actions = [("request", i) for i in range(services)] + [("answer", a) for a in received]
    rng = random.Random(seed)
    rng.shuffle(actions)
    pendings = []
    for kind, what in actions:
        if kind == "request":
            pendings.append(clients[what].send_copy(what))
        else:
            with what:
                what.send_copy(TransmissionData(what.payload().value, 0, 0.0))
        if rng.random() < 0.5:
            time.sleep(0.002)  # some wakes alone, some together
    print("done", flush=True)
    sys.stdin.readline()
    return 0


async def stream_server():
    node = floe.Node.create("compose-stream-server")
    server = compose_service(node, "Stream").server_builder().create()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, sys.exit, 0)

    async def answer(active):
        with active:
            for x in range(active.payload().value):
                if not active.is_connected():
                    return
                active.send_copy(TransmissionData(x, 0, 0.0))
                if x % 16 == 15:
                    await asyncio.sleep(0)

    tasks = set()
    print("ready", flush=True)
    while True:
        task = asyncio.create_task(answer(await asyncio.wait_for(server.receive_async(), 30)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


def send(count, seed):
    node = floe.Node.create("compose-sender")
    port = compose_service(node, 0).client_builder().create()
    deadline = time.monotonic() + 10
    while port.number_of_servers() == 0:
        if time.monotonic() > deadline:
            return 1
        time.sleep(0.001)
    rng = random.Random(seed)
    pendings = []
    for request in range(count):
        pendings.append(port.send_copy(request))
        time.sleep(rng.choice([0, 0, 0.0005, 0.002]))
    print("sent", flush=True)
    sys.stdin.readline()
    return 0


def client(request):
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    node = floe.Node.create("compose-client")
    port = compose_service(node, "Stream").client_builder().create()
    deadline = time.monotonic() + 10
    while port.number_of_servers() == 0:
        if time.monotonic() > deadline:
            return 1
        time.sleep(0.001)
    pending = port.send_copy(request)
    print("sent", flush=True)
    time.sleep(30)
    pending.release()
    return 0


if __name__ == "__main__":
    mode = sys.argv[1:2]
    if mode == ["wake"]:
        sys.exit(wake(*(int(arg) for arg in sys.argv[2:5])))
    if mode == ["stream-server"]:
        sys.exit(asyncio.run(stream_server()))
    if mode == ["send"]:
        sys.exit(send(*(int(arg) for arg in sys.argv[2:4])))
    if mode == ["client"]:
        sys.exit(client(int(sys.argv[2])))
    sys.exit(f"usage: {sys.argv[0]} wake SERVICES REQUESTS SEED | stream-server | "
             "send COUNT SEED | client N")
