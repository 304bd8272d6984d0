"""User headers: declared as ctypes types, written on loans, read on received messages, across
processes and languages."""

import ctypes
import time

import pytest

import floe
from payloads import RequestTag, ResponseEcho, header_service_builder


def receive_one(pending, timeout=10):
    deadline = time.monotonic() + timeout
    while (response := pending.receive()) is None:
        assert time.monotonic() < deadline, f"no response within {timeout} s"
        time.sleep(0.001)
    return response


@pytest.mark.parametrize("language", ["cpp", "python"])
def test_user_headers_travel_both_ways(domain, header_peer, language):
    server = header_peer(language, 3)
    client = header_service_builder(floe.Node.create("client")).open().client_builder().create()
    for value in (1, 2):
        with client.loan() as request:
            assert (request.user_header().tag, request.user_header().weight) == (0, 0.0)
            request.user_header().tag = 40 + value
            request.user_header().weight = 0.25 * value
            request.payload().value = value
            pending = request.send()
        with pending:
            assert pending.user_header().tag == 40 + value  # the request as sent
            with receive_one(pending) as response:
                assert response.payload().value == 2 * value
                echo = response.user_header()
                assert (echo.echoed_tag, echo.request_value) == (41 + value, value)
    # send_copy has no header to copy: the server reads the zero every loan begins with.
    with client.send_copy(7) as pending, receive_one(pending) as response:
        assert (response.user_header().echoed_tag, response.user_header().request_value) == (1, 7)
    code, out, err = server.finish()
    assert code == 0, err
    assert out.splitlines() == ["request 1 tag 41 weight 0.25", "request 2 tag 42 weight 0.50",
                                "request 7 tag 0 weight 0.00"]


def test_opening_without_the_peers_user_headers_raises_its_message(domain, header_peer):
    server = header_peer("cpp", 1)
    builder = (floe.Node.create("client").service_builder("Py/Headers")
               .request_response(ctypes.c_uint64, ctypes.c_uint64))
    with pytest.raises(floe.IncompatibleTypes,
                       match=r"request user header type tests::RequestTag \(size 16, alignment 8"
                             r"\), not none"):
        builder.open()

    class ShorterEcho(ctypes.Structure):
        _fields_ = [("echoed_tag", ctypes.c_uint64)]
        floe_type_name = "tests::ResponseEcho"

    with pytest.raises(floe.IncompatibleTypes,
                       match=r"response user header type tests::ResponseEcho \(size 16, "
                             r"alignment 8\), not tests::ResponseEcho \(size 8, alignment 8\)"):
        builder.request_user_header(RequestTag).response_user_header(ShorterEcho).open()
    # Declared as the peer declares them, they open; one request lets it end and clean up.
    service = builder.response_user_header(ResponseEcho).open()
    with service.client_builder().create().send_copy(1) as pending:
        receive_one(pending).release()
    assert server.finish()[0] == 0


def local_service(node, **limits):
    builder = (node.service_builder("Local/Headers")
               .request_response(ctypes.c_uint64, ctypes.c_uint64)
               .request_user_header(RequestTag).response_user_header(ResponseEcho))
    for name, value in limits.items():
        getattr(builder, name)(value)
    return builder.create()


def test_a_released_user_header_view_raises(domain):
    service = local_service(floe.Node.create("both"))
    client = service.client_builder().create()
    server = service.server_builder().create()
    request = client.loan()
    header = request.user_header()
    header.tag = 3
    pending = request.send()
    with pytest.raises(floe.ReleasedError):
        header.tag = 4
    with pytest.raises(floe.ReleasedError):
        request.user_header()
    active = server.receive()
    received = active.user_header()
    assert received.tag == 3
    with pytest.raises(AttributeError, match="read-only"):
        received.tag = 5
    response = active.loan()
    echo = response.user_header()
    response.release()
    with pytest.raises(floe.ReleasedError):
        echo.echoed_tag = 1
    active.release()
    with pytest.raises(floe.ReleasedError):
        print(received.tag)
    pending.release()
    with pytest.raises(floe.ReleasedError):
        pending.user_header()


def test_every_loan_starts_with_a_zero_user_header(domain):
    # One chunk per client: each loan reuses the chunk the previous request was written in.
    service = local_service(floe.Node.create("both"), max_clients=1,
                            max_active_requests_per_client=1, max_loaned_requests=1)
    client = service.client_builder().create()
    server = service.server_builder().create()
    for _ in range(3):
        with client.loan() as request:
            assert (request.user_header().tag, request.user_header().weight) == (0, 0.0)
            request.user_header().tag = 0xFFFFFFFF
            request.user_header().weight = -1.0
            pending = request.send()
        with server.receive() as active:
            assert active.user_header().tag == 0xFFFFFFFF
            with active.loan() as response:
                assert response.user_header().echoed_tag == 0
                response.user_header().echoed_tag = 9
                response.send()
        with pending, receive_one(pending) as response:
            assert response.user_header().echoed_tag == 9
    with client.send_copy(1) as pending, server.receive() as active:
        assert (active.user_header().tag, active.user_header().weight) == (0, 0.0)


def test_a_service_without_user_headers_has_none_to_show(domain):
    service = (floe.Node.create("both").service_builder("Plain")
               .request_response(ctypes.c_uint64, ctypes.c_uint64).create())
    with service.client_builder().create().loan() as request:
        with pytest.raises(TypeError, match="requests carry no user header; declare one with "
                                            "request_user_header"):
            request.user_header()


def test_user_header_types_are_checked_as_payloads_are(domain):
    builder = (floe.Node.create("n").service_builder("Checked")
               .request_response(ctypes.c_uint64, ctypes.c_uint64))
    with pytest.raises(TypeError, match="'dict' is not a ctypes type; a floe payload type"):
        builder.request_user_header(dict)

    class WithPointer(ctypes.Structure):
        _fields_ = [("p", ctypes.c_void_p)]

    with pytest.raises(TypeError, match="WithPointer holds a pointer"):
        builder.response_user_header(WithPointer)
    service = builder.request_user_header(ctypes.c_uint32 * 2).create()
    info = next(s for s in floe.Node.create("observer").list_services() if s.name == "Checked")
    assert (info.request_user_header_type, info.response_user_header_type) == (
        "unsigned int [2]", "")
    del service
