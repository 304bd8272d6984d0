"""The seed example's request-response in real processes: Python <-> Python, Python <-> C++."""

import ctypes
import signal
import time

import pytest

import floe
from conftest import example, wait_until
from payloads import SERVICE, TransmissionData, open_service


def collect(pending, timeout=10):
    """Every response of the stream until it ends, as (x, y, funky) tuples."""
    responses = []
    deadline = time.monotonic() + timeout
    while True:
        connected = pending.is_connected()  # before draining: what was sent before is there
        while (response := pending.receive()) is not None:
            with response:
                payload = response.payload()
                assert response.header().request_id == pending.header().request_id
                responses.append((payload.x, payload.y, payload.funky))
        if not connected:
            return responses
        assert time.monotonic() < deadline, f"the stream did not end within {timeout} s"
        time.sleep(0.001)


def expected_stream(request, counter):
    """What the example servers (C++ and peer.py) answer request number `counter` with."""
    first = (5 + counter, 6 * counter, pytest.approx(789.123 * counter))
    return [first] + [(counter, n, 0.5 * n) for n in range(request % 3 + 1)]


def run_seed_client(client):
    """The seed client's steps: a request by copy, then loaned requests written in place."""
    wait_until(lambda: client.number_of_servers() > 0, 10, "a server")
    with client.send_copy(0) as pending:
        assert pending.number_of_server_connections() == 1
        assert pending.payload().value == 0
        assert collect(pending) == expected_stream(0, 0)
    for number in (1, 2):
        with client.loan() as request:
            assert request.payload().value == 0  # loan() zeroes the payload
            request.payload().value = number
            pending = request.send()
        with pending:
            assert collect(pending) == expected_stream(number, number)


def test_python_client_and_python_server_run_the_seed_example(domain, python_peer):
    server = python_peer("server", 3)
    client = open_service(floe.Node.create("client")).client_builder().create()
    run_seed_client(client)
    code, out, err = server.finish()
    assert code == 0, err
    assert out.splitlines() == ["answered request 0", "answered request 1",
                                "answered request 2"]


def test_python_client_and_cpp_example_server_run_the_seed_example(domain, start_peer):
    server = start_peer(example("request_response_server"), "--seconds", 20)
    client = open_service(floe.Node.create("client")).client_builder().create()
    run_seed_client(client)
    server.process.send_signal(signal.SIGTERM)
    code, _, err = server.finish()
    assert code == 0, err


def test_cpp_example_client_and_asyncio_python_server_run_the_seed_example(domain, python_peer,
                                                                           start_peer):
    server = python_peer("async-server", 0)
    assert server.process.stdout.readline() == "ready\n"
    client = start_peer(example("request_response_client"), "--seconds", 1)
    code, out, err = client.finish(timeout=20)
    assert code == 0, err
    lines = out.splitlines()
    responses = [line.split(": ", 2)[2] for line in lines if ": response to request 0 " in line]
    assert responses == ["x=5 y=0 funky=0.000", "x=0 y=0 funky=0.000"], out
    # Every stream the client read to its end was complete: request r has (r % 3) + 2
    # responses; the last request was sent as its time ran out, its stream not read.
    done = lines[-1].split()
    requests, received = int(done[3]), int(done[5])
    assert requests >= 3, out
    assert received == sum(r % 3 + 2 for r in range(requests - 1)), out
    server.process.send_signal(signal.SIGTERM)
    code, _, err = server.finish()
    assert code == 0, err


def test_a_mismatched_type_raises_what_cpp_raises(domain, start_peer):
    server = start_peer(example("request_response_server"), "--seconds", 20)
    node = floe.Node.create("client")
    wait_until(lambda: node.service_exists(SERVICE), 10, "the C++ server's service")
    builder = node.service_builder(SERVICE).request_response(ctypes.c_uint32, TransmissionData)
    with pytest.raises(floe.IncompatibleTypes) as raised:
        builder.open()
    message = str(raised.value)
    assert "long unsigned int (size 8, alignment 8)" in message, message
    assert "unsigned int (size 4, alignment 4)" in message, message
    assert raised.value.code == "incompatible_types"
    assert isinstance(raised.value, floe.Error)

    class Renamed(ctypes.Structure):
        _fields_ = TransmissionData._fields_

    with pytest.raises(floe.IncompatibleTypes, match="examples::TransmissionData"):
        node.service_builder(SERVICE).request_response(ctypes.c_uint64, Renamed).open()
    # The matching types open it. An answer shows the server runs its loop, where SIGTERM
    # ends it cleanly (before, SIGTERM could come ahead of its handler and kill it).
    with open_service(node).client_builder().create().send_copy(1) as pending:
        wait_until(pending.has_response, 10, "the server's answer")
    server.process.send_signal(signal.SIGTERM)
    code, _, err = server.finish()
    assert code == 0, err


class WithPointer(ctypes.Structure):
    _fields_ = [("next", ctypes.c_void_p)]


@pytest.mark.parametrize("payload_type", [int, bytes, "c_uint64", ctypes.c_char_p,
                                          ctypes.POINTER(ctypes.c_int), WithPointer,
                                          ctypes.c_void_p * 2])
def test_a_payload_type_floe_cannot_carry_is_rejected(domain, payload_type):
    builder = floe.Node.create("n").service_builder(SERVICE)
    with pytest.raises(TypeError, match="fixed-size ctypes type without pointers"):
        builder.request_response(payload_type, TransmissionData)
    with pytest.raises(TypeError, match="fixed-size ctypes type without pointers"):
        builder.request_response(ctypes.c_uint64, payload_type)
    assert not floe.Node.create("n").service_exists(SERVICE)


def test_default_type_names_are_gxx_spellings_of_the_cpp_types():
    assert floe.type_name(ctypes.c_uint64) == "long unsigned int"
    assert floe.type_name(ctypes.c_int32) == "int"
    assert floe.type_name(ctypes.c_double) == "double"
    assert floe.type_name(TransmissionData) == "examples::TransmissionData"
    assert floe.type_name((ctypes.c_uint8 * 4) * 2) == "unsigned char [2][4]"


def test_a_released_payload_view_raises_instead_of_reading(domain):
    service = open_service(floe.Node.create("n"))
    server = service.server_builder().create()
    client = service.client_builder().create()
    with client.loan() as request:
        payload = request.payload()
        payload.value = 7
        pending = request.send()
    with pytest.raises(floe.ReleasedError):
        payload.value
    with pytest.raises(floe.ReleasedError):
        payload.value = 8
    with pytest.raises(floe.ReleasedError):
        request.send()

    active = server.receive()
    request_payload = active.payload()
    assert request_payload.value == 7
    with pytest.raises(AttributeError, match="read-only"):
        request_payload.value = 9
    with active.loan() as response:
        response.payload().x = 3
        assert response.send()
    del active  # ends the stream as the C++ destructor does
    with pytest.raises(floe.ReleasedError):
        request_payload.value

    received = pending.receive()
    view = received.payload()
    assert view.x == 3
    kept = view.copy()
    received.release()
    with pytest.raises(floe.ReleasedError):
        view.x
    assert kept.x == 3
    assert not pending.is_connected()
    pending.release()
    with pytest.raises(floe.ReleasedError):
        pending.receive()


class Inner(ctypes.Structure):
    _fields_ = [("a", ctypes.c_int32), ("b", ctypes.c_int32)]


class Outer(ctypes.Structure):
    _fields_ = [("inner", Inner), ("values", ctypes.c_int32 * 4), ("rows", Inner * 2)]


def test_sub_objects_of_a_released_payload_raise_too(domain):
    service = (floe.Node.create("n").service_builder("Test/Nested")
               .request_response(Outer, ctypes.c_uint64).create())
    server = service.server_builder().create()
    client = service.client_builder().create()
    with client.loan() as request:
        inner, values, row = request.payload().inner, request.payload().values, None
        inner.a = 5
        values[2] = 7
        row = request.payload().rows[1]
        row.b = 9
        pending = request.send()
    for write in (lambda: setattr(inner, "a", 999), lambda: values.__setitem__(2, 999),
                  lambda: setattr(row, "b", 999)):
        with pytest.raises(floe.ReleasedError):
            write()
    with server.receive() as active:
        received = active.payload()
        assert (received.inner.a, received.values[2], received.rows[1].b) == (5, 7, 9)
        with pytest.raises(AttributeError, match="read-only"):
            received.inner.a = 1
        kept_inner = received.inner
    with pytest.raises(floe.ReleasedError):
        kept_inner.a
    pending.release()


def test_the_generic_classes_take_their_payload_types_at_run_time():
    assert floe.Client[ctypes.c_uint64, Outer].__origin__ is floe.Client
    assert floe.PayloadView[Outer].__args__ == (Outer,)
    assert str(floe.StreamEnd.FINISHED) == "StreamEnd.FINISHED"
