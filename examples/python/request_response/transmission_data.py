"""The service of the request-response example, its payload types named as the C++ example
names them (examples/request_response/transmission_data.hpp), so Python and C++ processes share
it."""

import ctypes

import floe


class TransmissionData(ctypes.Structure):
    """A response: two integers and a double."""

    _fields_ = [("x", ctypes.c_int32), ("y", ctypes.c_int32), ("funky", ctypes.c_double)]
    floe_type_name = "examples::TransmissionData"


def open_service(node_name: str) -> floe.Service[ctypes.c_uint64, TransmissionData]:
    """The example's service, a c_uint64 request and a TransmissionData response, opened or
    created."""
    node = floe.Node.create(node_name)
    return (node.service_builder("My/Funk/ServiceName")
            .request_response(ctypes.c_uint64, TransmissionData)
            .open_or_create())
