"""Slices: payloads that are a run of elements whose length each message sets (floe.Slice(T),
C++'s floe::Slice<T>), loaned in place or copied from any buffer, received as a view of exactly
the length sent, across processes and with C++."""

import asyncio
import ctypes
import time

import pytest

import floe
from conftest import built_program, wait_until
from payloads import (MAX_SLICE_LEN, RequestTag, ResponseEcho, Sample, sample_answer,
                      slice_service_builder)


@pytest.fixture
def slice_peer(ready_peer):
    """slice_peer(language, requests): ready_peer's slice-server (it creates the slice
    service)."""
    return lambda language, requests: ready_peer("slice-server", language, requests)


def pattern(length):
    """The request bytes of a request of `length` bytes."""
    return bytes((index * 7 + length) & 0xFF for index in range(length))


def samples_of(response):
    """A response's Samples as (weight, index, value) tuples, from a copy of its bytes."""
    data = response.copy_payload()
    array = (Sample * (len(data) // ctypes.sizeof(Sample))).from_buffer_copy(data)
    return [(sample.weight, sample.index, sample.value) for sample in array]


def receive_one(pending):
    wait_until(pending.has_response, 10, "the slice server's response")
    return pending.receive()


def test_the_marker_and_byte():
    assert floe.Slice(floe.byte) is floe.Slice(floe.byte)
    assert floe.Slice(Sample).element_type is Sample
    assert repr(floe.Slice(floe.byte)) == "floe.Slice(byte)"
    assert floe.type_name(floe.byte) == "std::byte"  # what C++ records for std::byte
    assert ctypes.sizeof(floe.byte) == 1 and issubclass(floe.byte, ctypes.c_uint8)
    with pytest.raises(TypeError, match="pointer"):
        floe.Slice(ctypes.c_char_p)
    with pytest.raises(TypeError, match="not a type"):
        floe.Slice(3)


def test_the_builders_take_slice_setters_only_for_slices(domain):
    node = floe.Node.create("slice-builders")
    fixed = node.service_builder("Py/Fixed").request_response(ctypes.c_uint64, floe.Slice(Sample))
    with pytest.raises(TypeError, match="request_max_slice_len is for a service whose request "
                                        "payload is a floe.Slice"):
        fixed.request_max_slice_len(8)
    with pytest.raises(floe.IncompatibleLimits, match="response_max_slice_len"):
        fixed.create()  # a slice service is created with its max
    service = fixed.response_max_slice_len(8).create()
    with pytest.raises(TypeError, match="initial_max_slice_len is for a service whose request"):
        service.client_builder().initial_max_slice_len(4)
    client = service.client_builder().create()
    server = service.server_builder().initial_max_slice_len(4).create()
    with pytest.raises(TypeError, match="fixed-size: loan it with loan"):
        client.loan_slice(1)
    with client.send_copy(7) as pending:  # a fixed request, a slice of responses
        wait_until(server.has_requests, 5, "the request")
        with server.receive() as active:
            assert active.payload().value == 7
            with pytest.raises(TypeError, match="is a floe.Slice: loan it with loan_slice"):
                active.loan()
            with active.loan_slice(2) as response:
                response.payload()[1].index = 9
                response.send()
        response = receive_one(pending)
        assert len(response.payload()) == 2 and response.payload()[1].index == 9


def test_allocation_strategy_grows_a_port_past_the_service_max(domain):
    node = floe.Node.create("slice-growth")
    service = (node.service_builder("Py/Grow")
               .request_response(floe.Slice(floe.byte), floe.Slice(Sample))
               .request_max_slice_len(8).response_max_slice_len(8).create())
    with pytest.raises(TypeError, match="floe.AllocationStrategy"):
        service.client_builder().allocation_strategy("power_of_two")
    fixed = service.client_builder().create()
    with pytest.raises(floe.ExceedsMaxSliceLen):
        fixed.loan_slice(9)
    client = (service.client_builder()
              .allocation_strategy(floe.AllocationStrategy.POWER_OF_TWO).create())
    server = (service.server_builder()
              .allocation_strategy(floe.AllocationStrategy.BEST_FIT).create())
    data = pattern(100)  # above the service's 8: into the client's data segment
    with client.send_copy(data) as pending:
        wait_until(server.has_requests, 5, "the request")
        with server.receive() as active:
            assert active.copy_payload() == data
            with active.loan_slice(20) as response:
                response.payload()[19].index = 5
                response.send()
        response = receive_one(pending)
        assert len(response.payload()) == 20 and response.payload()[19].index == 5
    usage = service.usage()
    assert usage.data_segments == 2 and usage.data_segment_bytes > 0


@pytest.mark.parametrize("language", ["python", "cpp"])
def test_lengths_0_1_max(domain, slice_peer, language):
    """A Python client sends slices of 0, 1 and max bytes (loaned in place and copied) to a
    server in another process (Python or C++), which answers with one Sample per byte."""
    lengths = [0, 1, MAX_SLICE_LEN]
    peer = slice_peer(language, 2 * len(lengths))
    service = slice_service_builder(floe.Node.create("python-slice-client")).open()
    client = service.client_builder().create()
    for length in lengths:
        data = pattern(length)
        with client.loan_slice_uninit(length) as request:
            assert len(request.payload()) == length
            request.payload()[:] = data  # written in place
            loaned = request.send()
        for pending in (loaned, client.send_copy(bytearray(data))):
            with pending:
                assert pending.copy_payload() == data
                with receive_one(pending) as response:
                    payload = response.payload()
                    assert len(payload) == length
                    assert samples_of(response) == sample_answer(data)
                    if length:
                        assert payload[length - 1].value == data[-1] * 3 + length - 1
    code, out, err = peer.finish()
    assert code == 0, err
    assert out.splitlines()[:2] == ["request of 0 bytes"] * 2


def test_a_cpp_client_and_a_python_server(domain, start_peer):
    """The reverse of test_lengths_0_1_max: a C++ client in another process (cpp_peer.cpp's
    slice-client) sends slices of 0, 1 and max bytes, loaned in place and copied, to a Python
    server, which answers each with a Sample per byte in a slice awaited with loan_slice_async;
    the client checks every Sample."""
    service = slice_service_builder(floe.Node.create("python-slice-server")).create()
    server = service.server_builder().create()
    peer = start_peer(built_program("FLOE_PYTHON_TEST_PEER", "floe_python_test_peer"),
                      "slice-client")

    async def serve(requests):
        lengths = []
        for _ in range(requests):
            with await asyncio.wait_for(server.receive_async(), 10) as active:
                data = active.copy_payload()
                with await active.loan_slice_async(len(data)) as response:
                    samples = response.payload()
                    assert len(samples) == len(data)
                    for index, (weight, sample_index, value) in enumerate(sample_answer(data)):
                        samples[index].weight = weight
                        samples[index].index = sample_index
                        samples[index].value = value
                    assert response.send()
                lengths.append(len(data))
        return lengths

    assert asyncio.run(serve(6)) == [0, 0, 1, 1, MAX_SLICE_LEN, MAX_SLICE_LEN]
    code, out, err = peer.finish()
    assert code == 0, err
    assert out.splitlines() == [f"response of {n} samples" for n in (0, 0, 1, 1, 4096, 4096)]


def test_the_async_response_loan_waits_for_a_sent_response(domain):
    service = (slice_service_builder(floe.Node.create("slice-response-async"))
               .max_loaned_responses_per_request(1).create())
    client = service.client_builder().create()
    server = service.server_builder().create()

    async def main():
        pending = client.send_copy(b"ab")
        active = await asyncio.wait_for(server.receive_async(), 5)
        held = active.loan_slice(1)
        with pytest.raises(floe.ExceedsMaxLoans):
            active.loan_slice(1)
        with pytest.raises(floe.ExceedsMaxSliceLen):
            await asyncio.wait_for(active.loan_slice_async(MAX_SLICE_LEN + 1), 5)  # never waits
        waiting = asyncio.ensure_future(active.loan_slice_async(2))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        held.payload()[0].value = 1
        sent = time.monotonic()
        assert held.send()
        second = await asyncio.wait_for(waiting, 5)
        assert time.monotonic() - sent < 0.5  # rung by the send, not the 1 s safety recheck
        assert second.copy_payload() == bytes(2 * ctypes.sizeof(Sample))  # zeroed
        second.payload()[1].value = 2
        # Cancelled while waiting, it takes nothing; released meanwhile, the request cancels it.
        cancelled = asyncio.ensure_future(active.loan_slice_async(1))
        await asyncio.sleep(0.02)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert service.usage().response_chunks_in_use == 2  # the first one queued, the second
        orphaned = asyncio.ensure_future(active.loan_slice_async(1))
        await asyncio.sleep(0.02)
        active.release()
        with pytest.raises(floe.Cancelled):
            await asyncio.wait_for(orphaned, 5)
        assert second.send()  # the stream ends with it
        with pending:
            assert [samples_of(receive_one(pending))[0][2] for _ in range(2)] == [1, 0]

    asyncio.run(main())


def test_max_plus_one_raises(domain):
    node = floe.Node.create("slice-limits")
    service = slice_service_builder(node).create()
    client = service.client_builder().create()
    in_use = service.usage().request_chunks_in_use
    too_many = MAX_SLICE_LEN + 1
    for loan in (client.loan_slice, client.loan_slice_uninit):
        with pytest.raises(floe.ExceedsMaxSliceLen):
            loan(too_many)
    with pytest.raises(floe.ExceedsMaxSliceLen):
        client.send_copy(bytes(too_many))
    with pytest.raises(floe.ExceedsMaxSliceLen):
        asyncio.run(asyncio.wait_for(client.loan_slice_async(too_many), 5))  # never waits
    assert service.usage().request_chunks_in_use == in_use
    with client.loan_slice(MAX_SLICE_LEN) as request:  # max itself is fine
        assert len(request.payload()) == MAX_SLICE_LEN and request.payload()[-1] == 0

    capped = service.client_builder().initial_max_slice_len(8).create()
    capped.loan_slice(8).release()
    with pytest.raises(floe.ExceedsMaxSliceLen, match=r"floe\.AllocationStrategy\.POWER_OF_TWO"):
        capped.loan_slice(9)  # the fix in Python's words
    with pytest.raises(floe.IncompatibleLimits):
        service.client_builder().initial_max_slice_len(too_many).create()
    with pytest.raises(ValueError, match="a slice length is 0 or more, not -1"):
        client.loan_slice(-1)
    with pytest.raises(TypeError, match="a slice length is a whole number"):
        client.loan_slice_uninit(2.5)
    single = service.client_builder().initial_max_slice_len(0).create()  # 0 taken as 1, as C++
    single.loan_slice(1).release()
    with pytest.raises(floe.ExceedsMaxSliceLen):
        single.loan_slice(2)

    server = service.server_builder().initial_max_slice_len(16).create()
    with client.send_copy(b"ab"):
        wait_until(server.has_requests, 5, "the request")
        with server.receive() as active:
            assert active.copy_payload() == b"ab"
            with pytest.raises(floe.ExceedsMaxSliceLen):
                active.loan_slice(17)
            with pytest.raises(floe.ExceedsMaxSliceLen):
                active.send_copy((Sample * 17)())
            assert active.send_copy((Sample * 16)())


def test_the_async_slice_loan_waits_for_a_free_chunk(domain):
    service = slice_service_builder(floe.Node.create("slice-async")).max_loaned_requests(1).create()
    client = service.client_builder().create()

    async def main():
        held = client.loan_slice(3)
        waiting = asyncio.ensure_future(client.loan_slice_async(5))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        held.release()
        request = await asyncio.wait_for(waiting, 5)
        assert len(request.payload()) == 5 and request.copy_payload() == bytes(5)
        request.payload()[4] = 9
        with request.send(), await asyncio.wait_for(server.receive_async(), 5) as active:
            assert active.copy_payload() == b"\0\0\0\0\x09"  # the length the loan wrote

    server = service.server_builder().create()
    asyncio.run(main())


def test_view_raises_after_release(domain):
    service = slice_service_builder(floe.Node.create("slice-views")).create()
    client = service.client_builder().create()
    server = service.server_builder().create()
    request = client.loan_slice(4)
    view = request.payload()
    view[0] = 200
    assert view[0] == 200 and view[:2] == [200, 0] and len(view) == 4  # plain ints
    pending = request.send()
    with pytest.raises(floe.ReleasedError):
        view[0]
    with pytest.raises(floe.ReleasedError):
        len(view)
    with pytest.raises(floe.ReleasedError):
        request.copy_payload()
    wait_until(server.has_requests, 5, "the request")
    active = server.receive()
    received = active.payload()
    assert list(received) == [200, 0, 0, 0]
    with pytest.raises(AttributeError, match="read-only"):
        received[0] = 1
    with active.loan_slice(2) as response:
        response.payload()[1].value = 5
        response.send()
    active.release()
    with pytest.raises(floe.ReleasedError):
        received[0]
    response = receive_one(pending)
    sample = response.payload()[1]  # a view of the same message, as the array is
    copied = response.payload().copy()
    assert sample.value == 5 and copied[1].value == 5
    response.release()
    with pytest.raises(floe.ReleasedError):
        sample.value
    with pytest.raises(floe.ReleasedError):
        response.copy_payload()
    assert copied[1].value == 5 and len(copied) == 2  # a copy is the caller's own
    pending.release()


def test_send_copy_size_not_a_multiple_raises(domain):
    node = floe.Node.create("slice-copies")
    words = (node.service_builder("Py/Words")
             .request_response(floe.Slice(ctypes.c_uint32), floe.Slice(Sample))
             .request_max_slice_len(8).response_max_slice_len(8).create())
    client = words.client_builder().create()
    with pytest.raises(TypeError, match="whole number of elements of 4 bytes, got 3 bytes"):
        client.send_copy(b"abc")
    with pytest.raises(TypeError, match="takes a buffer"):
        client.send_copy("text")
    assert words.usage().request_chunks_in_use == 0
    # Any buffer of whole elements: bytes, a strided memoryview, a list, an array of another type.
    assert client.send_copy(b"\x01\x00\x00\x00\x02\x00\x00\x00").copy_payload() == \
        b"\x01\x00\x00\x00\x02\x00\x00\x00"
    strided = memoryview(bytes(range(16))).cast("I")[::2]
    assert client.send_copy(strided).copy_payload() == bytes(range(4)) + bytes(range(8, 12))
    server = words.server_builder().create()
    with client.send_copy([7, 8, 9]) as pending:
        wait_until(server.has_requests, 5, "the request")
        with server.receive() as active:
            assert list(active.payload()) == [7, 8, 9]
            with pytest.raises(TypeError, match="whole number of elements of 16 bytes"):
                active.send_copy(b"x" * 15)
            assert active.send_copy(bytes(32))
        assert len(receive_one(pending).payload()) == 2


def test_byte_slice_matches_cpp_std_byte(domain, slice_peer):
    """The C++ peer created its service with floe::Slice<std::byte> requests: floe.byte opens
    it, while c_uint8 (C++'s unsigned char) and a fixed byte are other types."""
    peer = slice_peer("cpp", 1)
    node = floe.Node.create("python-byte-opener")
    client = slice_service_builder(node).open().client_builder().create()
    with client.send_copy(b"\xff") as pending, receive_one(pending) as response:
        assert samples_of(response) == [(1.0, 0, 0xFF * 3)]
    with pytest.raises(floe.IncompatibleTypes, match="unsigned char"):
        slice_service_builder(node, ctypes.c_uint8).open()
    with pytest.raises(floe.IncompatibleTypes):
        (node.service_builder("Py/Slices").request_response(floe.byte, floe.Slice(Sample))
         .response_max_slice_len(MAX_SLICE_LEN).open())
    info = next(info for info in node.list_services() if info.name == "Py/Slices")
    assert info.request_type == "floe::Slice<std::byte>"
    assert (info.request_max_slice_len, info.response_max_slice_len) == (MAX_SLICE_LEN,) * 2
    code, out, err = peer.finish()
    assert code == 0 and out == "request of 1 bytes\n", err


def test_slices_with_user_headers(domain):
    service = (slice_service_builder(floe.Node.create("slice-headers"))
               .request_user_header(RequestTag).response_user_header(ResponseEcho).create())
    client = service.client_builder().create()
    server = service.server_builder().create()
    with client.loan_slice(3) as request:
        request.user_header().tag = 5
        request.payload()[:] = b"abc"
        pending = request.send()
    with pending:
        wait_until(server.has_requests, 5, "the request")
        with server.receive() as active, active.loan_slice(1) as response:
            assert active.user_header().tag == 5 and active.copy_payload() == b"abc"
            response.user_header().echoed_tag = 6
            response.payload()[0].index = 7
            response.send()
        with receive_one(pending) as received:
            assert received.user_header().echoed_tag == 6
            assert [sample.index for sample in received.payload()] == [7]


def test_numpy_arrays_go_in_and_come_out(domain):
    numpy = pytest.importorskip("numpy")
    node = floe.Node.create("slice-numpy")
    service = (node.service_builder("Py/Numpy")
               .request_response(floe.Slice(ctypes.c_uint32), floe.Slice(ctypes.c_double))
               .request_max_slice_len(16).response_max_slice_len(16).create())
    client = service.client_builder().create()
    server = service.server_builder().create()
    with client.send_copy(numpy.arange(10, dtype=numpy.uint32)[::3]) as pending:  # strided
        wait_until(server.has_requests, 5, "the request")
        with server.receive() as active:
            words = numpy.frombuffer(active.copy_payload(), dtype=numpy.uint32)
            assert words.tolist() == [0, 3, 6, 9]
            assert active.send_copy(words.astype(numpy.float64) / 2)
        with receive_one(pending) as response:
            assert numpy.frombuffer(response.copy_payload(), numpy.float64).tolist() == \
                [0.0, 1.5, 3.0, 4.5]


def test_call_async_sends_a_slice(domain):
    service = slice_service_builder(floe.Node.create("slice-call")).create()
    client = service.client_builder().create()
    server = service.server_builder().create()

    async def serve():
        with await server.receive_async() as active:
            data = active.copy_payload()
            await active.send_copy_async([Sample(*sample) for sample in sample_answer(data)])

    async def main():
        serving = asyncio.ensure_future(serve())
        with await floe.call_async(client, b"xyz", 5) as response:
            assert samples_of(response) == sample_answer(b"xyz")
        await serving

    asyncio.run(main())
