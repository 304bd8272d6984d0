"""What the binding holds comes back: no memory or shared-memory growth over many round trips."""

import glob
import resource

import floe
from payloads import TransmissionData, open_service


def resident_kib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() // 1024


def test_no_leak_after_100k_round_trips(domain):
    service = open_service(floe.Node.create("n"))
    server = service.server_builder().create()
    client = service.client_builder().create()
    objects = sorted(glob.glob(f"/dev/shm/floe.{domain}.*"))

    def round_trips(count, start):
        for number in range(start, start + count):
            with client.send_copy(number) as pending:
                with server.receive() as active:
                    assert active.payload().value == number
                    active.send_copy(TransmissionData(number % 1000, 0, 0.0))
                    with active.loan() as response:
                        payload = response.payload()
                        payload.x, payload.y = number % 1000, 1
                        response.send()
                for y in (0, 1):
                    with pending.receive() as response:
                        view = response.payload()
                        assert (view.x, view.y) == (number % 1000, y)
                assert pending.receive() is None

    round_trips(10_000, 0)  # warms up the allocator and the interpreter's caches
    before = resident_kib()
    round_trips(100_000, 10_000)
    grown = resident_kib() - before
    assert grown < 2048, f"resident memory grew by {grown} KiB over 100k round trips"
    assert sorted(glob.glob(f"/dev/shm/floe.{domain}.*")) == objects
