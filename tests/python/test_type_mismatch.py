"""A type mismatch seen from the C++ side: a C++ process opening a service a Python process
created with another request or response type (size, alignment or name) gets
floe::Errc::incompatible_types with the very message a C++ creator of those types causes."""

import ctypes
import os
import subprocess

import pytest

import floe
from payloads import SERVICE, TransmissionData


class PackedTransmissionData(ctypes.Structure):
    """TransmissionData aligned to 1, as type_peer.cpp's [[gnu::packed]] one."""

    _pack_ = 1
    _fields_ = TransmissionData._fields_
    floe_type_name = "examples::TransmissionData"


class RenamedTransmissionData(ctypes.Structure):
    _fields_ = TransmissionData._fields_
    floe_type_name = "tests::RenamedTransmissionData"


# What each variant of type_peer.cpp creates the service with, in Python.
VARIANTS = {
    "size": (ctypes.c_uint32, TransmissionData),
    "alignment": (ctypes.c_uint64, PackedTransmissionData),
    "name": (ctypes.c_uint64, RenamedTransmissionData),
}


def type_peer(*args):
    path = os.environ.get("FLOE_PYTHON_TYPE_PEER")
    if not path:
        pytest.skip("FLOE_PYTHON_TYPE_PEER is not set: run through CTest, which sets it")
    return [path, *args]


def cpp_opens():
    """The C++ peer opening the service with the example's types: (exit code, its output)."""
    done = subprocess.run(type_peer("open"), capture_output=True, text=True, timeout=10)
    return done.returncode, done.stdout.splitlines()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_cpp_opening_a_service_python_created_with_other_types_gets_what_cpp_gets(domain,
                                                                                  variant):
    # C++ <-> C++: the message of reference.
    creator = subprocess.Popen(type_peer("create", variant), stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert creator.stdout.readline() == "ready\n", creator.stderr.read()
        cpp_code, cpp_lines = cpp_opens()
        _, err = creator.communicate(timeout=10)  # its stdin closes: it ends
        assert creator.returncode == 0, err
    finally:
        if creator.poll() is None:
            creator.kill()
            creator.communicate()
    assert cpp_code == 1 and cpp_lines[0] == "incompatible_types", cpp_lines
    assert f"floe: service '{SERVICE}' has " in cpp_lines[1], cpp_lines

    # Python <-> C++: the same types created by Python.
    request, response = VARIANTS[variant]
    node = floe.Node.create("creator")
    service = node.service_builder(SERVICE).request_response(request, response).create()
    code, lines = cpp_opens()
    assert (code, lines) == (cpp_code, cpp_lines)

    # And Python opening what Python created with the example's types: the same text.
    with pytest.raises(floe.IncompatibleTypes) as raised:
        node.service_builder(SERVICE).request_response(ctypes.c_uint64, TransmissionData).open()
    assert str(raised.value) == cpp_lines[1]
    del service


def test_cpp_opens_a_service_python_created_with_the_same_types(domain):
    node = floe.Node.create("creator")
    service = node.service_builder(SERVICE).request_response(ctypes.c_uint64,
                                                             TransmissionData).create()
    assert cpp_opens() == (0, ["opened"])
    del service
