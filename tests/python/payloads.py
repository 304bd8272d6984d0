"""The payload types of the seed example, named as the C++ example names them."""

import ctypes


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
