"""The payload types of the seed example, named as the C++ example names them."""

import ctypes

import floe


class TransmissionData(ctypes.Structure):
    """examples/request_response/transmission_data.hpp's TransmissionData."""

    _fields_ = [("x", ctypes.c_int32), ("y", ctypes.c_int32), ("funky", ctypes.c_double)]
    floe_type_name = "examples::TransmissionData"


SERVICE = "My/Funk/ServiceName"


def open_service(node, **limits):
    builder = node.service_builder(SERVICE).request_response(ctypes.c_uint64, TransmissionData)
    for name, value in limits.items():
        getattr(builder, name)(value)
    return builder.open_or_create()


class RequestTag(ctypes.Structure):
    """tests/python/cpp_peer.cpp's request user header."""

    _fields_ = [("tag", ctypes.c_uint32), ("weight", ctypes.c_double)]
    floe_type_name = "tests::RequestTag"


class ResponseEcho(ctypes.Structure):
    """tests/python/cpp_peer.cpp's response user header."""

    _fields_ = [("echoed_tag", ctypes.c_uint64), ("request_value", ctypes.c_uint64)]
    floe_type_name = "tests::ResponseEcho"


HEADER_SERVICE = "Py/Headers"


def header_service_builder(node):
    """The builder of cpp_peer.cpp's service: u64 payloads, RequestTag and ResponseEcho."""
    return (node.service_builder(HEADER_SERVICE)
            .request_response(ctypes.c_uint64, ctypes.c_uint64)
            .request_user_header(RequestTag)
            .response_user_header(ResponseEcho))


class Sample(ctypes.Structure):
    """tests/python/cpp_peer.cpp's slice element of the responses of SLICE_SERVICE."""

    _fields_ = [("weight", ctypes.c_double), ("index", ctypes.c_uint32),
                ("value", ctypes.c_uint32)]
    floe_type_name = "tests::Sample"


SLICE_SERVICE = "Py/Slices"
MAX_SLICE_LEN = 4096


def slice_service_builder(node, element=None):
    """The builder of cpp_peer.cpp's slice service: requests are slices of bytes (C++'s
    std::byte), responses slices of Sample, both at most MAX_SLICE_LEN elements."""
    return (node.service_builder(SLICE_SERVICE)
            .request_response(floe.Slice(element or floe.byte), floe.Slice(Sample))
            .request_max_slice_len(MAX_SLICE_LEN)
            .response_max_slice_len(MAX_SLICE_LEN))


def sample_answer(request_bytes):
    """What the slice servers answer to a request of `request_bytes`: one Sample per byte."""
    return [(float(len(request_bytes)), index, byte * 3 + index)
            for index, byte in enumerate(request_bytes)]
