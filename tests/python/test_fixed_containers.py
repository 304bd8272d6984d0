"""floe.FixedString and floe.FixedVector: C++'s floe::FixedString<N> and floe::FixedVector<T, N>
as ctypes types, the same bytes and names, so a Python payload with text and lists meets a C++
one (the complex_types example's server)."""

import ctypes

import pytest

import floe
from conftest import example, wait_until


class Order(ctypes.Structure):
    _fields_ = [("customer", floe.FixedString(24)),
                ("item_ids", floe.FixedVector(ctypes.c_uint32, 8))]
    floe_type_name = "shop::Order"


class Receipt(ctypes.Structure):
    _fields_ = [("summary", floe.FixedString(64)),
                ("accepted_ids", floe.FixedVector(ctypes.c_uint32, 8))]
    floe_type_name = "shop::Receipt"


def test_the_types_have_the_cpp_layout_and_names():
    # C++: a std::uint32_t size, then N + 1 chars (FixedString) or N elements (FixedVector).
    assert ctypes.sizeof(floe.FixedString(24)) == 32 and ctypes.alignment(floe.FixedString(24)) == 4
    assert ctypes.sizeof(floe.FixedVector(ctypes.c_double, 3)) == 32
    assert floe.type_name(floe.FixedString(24)) == "floe::FixedString<24>"
    assert floe.type_name(floe.FixedVector(ctypes.c_uint32, 8)) == \
        "floe::FixedVector<unsigned int, 8>"
    assert floe.FixedString(24) is floe.FixedString(24)
    with pytest.raises(TypeError, match="pointer"):
        floe.FixedVector(ctypes.c_char_p, 2)
    with pytest.raises(ValueError):
        floe.FixedString(0)


def test_writes_past_the_capacity_raise_and_change_nothing():
    order = Order()
    order.customer.value = "Ada"
    order.item_ids.extend([1, 2, 3])
    with pytest.raises(floe.ExceedsCapacity, match="cannot hold 25 bytes"):
        order.customer.value = "x" * 25
    with pytest.raises(floe.ExceedsCapacity, match="holds 3, cannot take 6 more"):
        order.item_ids.extend(range(6))
    assert order.customer.value == "Ada" and order.item_ids.tolist() == [1, 2, 3]
    order.item_ids.extend(range(5))
    with pytest.raises(floe.ExceedsCapacity):
        order.item_ids.append(9)
    with pytest.raises(IndexError):
        order.item_ids[8]
    assert order.item_ids[-1] == 4 and len(order.item_ids) == 8


def test_truncation_is_asked_for_by_name():
    order = Order()
    assert order.customer.assign_truncated("x" * 30) == 24 and order.customer.value == "x" * 24
    # 23 ASCII bytes and a 2-byte character: the character does not fit and is left out whole.
    assert order.customer.assign_truncated("y" * 23 + "é") == 23
    assert order.customer.value == "y" * 23
    assert order.customer.assign_truncated(b"\xff" * 30) == 24  # bytes are cut anywhere
    order.item_ids.extend([1, 2, 3])
    assert order.item_ids.extend_truncated(range(10)) == 5
    assert order.item_ids.tolist() == [1, 2, 3, 0, 1, 2, 3, 4]


def test_they_compare_by_value():
    order = Order()
    order.customer.value = "Ada"
    order.item_ids.extend([1, 2])
    assert order.customer == "Ada" and order.customer != "Bob"
    assert order.customer == b"Ada" and order.customer != b"Ad"
    other = floe.FixedString(8)()
    other.value = "Ada"
    assert order.customer == other, "whatever the capacities"
    assert order.item_ids == [1, 2] and order.item_ids == (1, 2) and order.item_ids != [1]
    ids = floe.FixedVector(ctypes.c_uint32, 3)()
    ids.extend([1, 2])
    assert order.item_ids == ids
    assert order.customer != 3 and order.item_ids != "12"


def test_a_forged_length_is_read_bounded():
    order = Order()
    order.customer.value = "abc"
    order.customer._size = 0xFFFF_FFFF  # as a hostile peer would write it
    order.item_ids._size = 1_000_000
    assert len(order.customer.bytes) == 24 and order.customer.value.startswith("abc")
    assert len(order.item_ids) == 8 and len(order.item_ids.tolist()) == 8


def test_a_python_client_orders_from_the_cpp_example_server(domain, start_peer):
    node = floe.Node.create("python-shop-client")
    service = node.service_builder("Shop/Orders").request_response(Order, Receipt).open_or_create()
    client = service.client_builder().create()
    server = start_peer(example("complex_types_server"), "--seconds", 10)
    wait_until(lambda: client.number_of_servers() == 1, 5, "the C++ server")
    with client.loan() as request:
        request.payload().customer.value = "Ada Lovelace"
        request.payload().item_ids.extend([1, 2, 3])
        pending = request.send()
    with pending:
        response = None
        wait_until(lambda: pending.has_response(), 5, "the receipt")
        response = pending.receive()
        with response:
            receipt = response.payload()
            assert receipt.summary.value == "for Ada Lovelace: 2 of 3 item(s) accepted"
            assert receipt.accepted_ids.tolist() == [1, 3]
    server.kill()
