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
