"""Introspection: Node.list_services(), Service.usage() and Node.clean_up_dead_nodes() as plain
dataclasses, with a C++ peer alive and SIGKILLed."""

import dataclasses
import os

import floe
from conftest import wait_until
from payloads import header_service_builder


def listed(node, name):
    return [info for info in node.list_services() if info.name == name]


def test_a_live_cpp_peer_is_listed_with_its_types_limits_and_node(domain, header_peer):
    peer = header_peer("cpp", 1)
    node = floe.Node.create("observer")
    service = header_service_builder(node).open()
    client = service.client_builder().create()
    [info] = listed(node, "Py/Headers")
    assert info.state is floe.ServiceState.LIVE and info.problem == ""
    assert info.object.startswith(f"/floe.{domain}.")
    assert (info.request_type, info.response_type) == ("long unsigned int", "long unsigned int")
    assert (info.request_user_header_type, info.response_user_header_type) == (
        "tests::RequestTag", "tests::ResponseEcho")
    assert info.limits == service.limits() and info.limits["max_clients"] >= 1
    assert (info.live_nodes, info.dead_nodes) == (2, 0)
    assert sorted(info.nodes, key=lambda n: n.name) == [
        floe.NodeInfo(name="cpp-header-server", pid=peer.process.pid, alive=True, clients=0,
                      servers=1),
        floe.NodeInfo(name="observer", pid=os.getpid(), alive=True, clients=1, servers=0)]
    assert (info.usage.clients, info.usage.servers, info.usage.nodes) == (1, 1, 2)
    assert info.usage == service.usage() and info.usage.segment_size > 0
    assert dataclasses.asdict(info)["usage"]["clients"] == 1  # plain dataclasses all the way
    with client.send_copy(1) as pending, client.loan() as request:
        usage = service.usage()
        assert (usage.request_chunks_in_use, usage.clients) == (2, 1)
        assert request.payload().value == 0 and pending.header().request_id > 0
        wait_until(pending.has_response, 10, "the peer's response")  # lets the peer end
    del client
    assert service.usage().clients == 0
    assert peer.finish()[0] == 0


def test_a_sigkilled_cpp_peer_is_listed_dead_and_cleaned_up(domain, header_peer):
    peer = header_peer("cpp", 1)
    node = floe.Node.create("observer")
    service = header_service_builder(node).open()
    peer.kill()  # SIGKILL: the peer leaves its node record and server behind
    [info] = listed(node, "Py/Headers")
    assert info.state is floe.ServiceState.LIVE  # this node still holds it
    assert (info.live_nodes, info.dead_nodes) == (1, 1)
    dead = [n for n in info.nodes if not n.alive]
    assert [(n.name, n.pid, n.servers) for n in dead] == [
        ("cpp-header-server", peer.process.pid, 1)]
    assert node.clean_up_dead_nodes() == floe.DeadNodeCleanup(nodes=1, ports=1,
                                                              removed_services=0)
    [info] = listed(node, "Py/Headers")
    assert [n.name for n in info.nodes] == ["observer"] and info.usage.servers == 0
    del service


def test_a_service_only_a_sigkilled_peer_held_is_stale_until_cleaned_up(domain, header_peer):
    peer = header_peer("cpp", 1)
    peer.kill()
    node = floe.Node.create("observer")
    [info] = listed(node, "Py/Headers")
    assert info.state is floe.ServiceState.STALE
    assert (info.live_nodes, info.dead_nodes) == (0, 1)
    assert not node.service_exists("Py/Headers")
    assert node.clean_up_dead_nodes() == floe.DeadNodeCleanup(nodes=1, ports=1,
                                                              removed_services=1)
    assert node.list_services() == []


def test_a_damaged_object_is_listed_with_its_problem(domain):
    node = floe.Node.create("observer")
    damaged = f"/dev/shm/floe.{domain}.0123456789abcdef"
    descriptor = os.open(damaged, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)  # floe's mode
    os.write(descriptor, b"not a floe segment")
    os.close(descriptor)
    try:
        [info] = node.list_services()
        assert info.object == damaged[len("/dev/shm"):]
        assert info.state is floe.ServiceState.DAMAGED
        assert info.problem != "" and info.nodes == [] and info.request_type == ""
    finally:
        os.unlink(damaged)
