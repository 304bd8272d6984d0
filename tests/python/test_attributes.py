"""Service attributes: defined at creation, required at opening, read from the service, with
C++'s checks and messages, across processes and languages."""

import ctypes
import json
import subprocess

import pytest

import floe
from conftest import built_program, wait_until
from payloads import header_service_builder


def plain_builder(node, name="Attributed"):
    return node.service_builder(name).request_response(ctypes.c_uint64, ctypes.c_uint64)


def let_the_peer_end(service):
    """Sends the one request the header peer waits for and takes its response."""
    with service.client_builder().create().send_copy(1) as pending:
        wait_until(pending.has_response, 10, "the peer's response")


def test_python_opens_a_cpp_service_requiring_its_attributes(domain, header_peer):
    peer = header_peer("cpp", 1)
    node = floe.Node.create("opener")
    required = floe.AttributeVerifier().require("origin", "cpp").require_key("version")
    service = header_service_builder(node).required_attributes(required).open()
    attributes = service.attributes()
    assert attributes.items() == [("origin", "cpp"), ("version", "1")]
    assert attributes.value("origin") == "cpp" and attributes.values("version") == ["1"]
    assert attributes.contains("version") and attributes.contains("origin", "cpp")
    assert not attributes.contains("origin", "python") and attributes.value("nothing") is None
    assert attributes == floe.AttributeSpecifier().define("version", "1").define(
        "origin", "cpp").attributes()

    with pytest.raises(floe.IncompatibleAttributes,
                       match="attribute 'origin' = 'python' is required, but 'origin' is 'cpp'"):
        header_service_builder(node).required_attributes(
            floe.AttributeVerifier().require("origin", "python")).open()
    with pytest.raises(floe.IncompatibleAttributes,
                       match="attribute 'camera' is required, but it is not defined"):
        header_service_builder(node).required_attributes(
            floe.AttributeVerifier().require_key("camera")).open()
    # Opening ignores attributes(): the service keeps its creator's.
    again = header_service_builder(node).attributes(
        floe.AttributeSpecifier().define("origin", "python")).open()
    assert again.attributes() == attributes

    let_the_peer_end(service)
    assert peer.finish()[0] == 0


def test_cpp_reads_the_attributes_python_created(domain):
    defined = floe.AttributeSpecifier().define("camera", "front").define("camera", "back")
    service = plain_builder(floe.Node.create("creator")).attributes(defined.define(
        "resolution", "1920x1080")).create()
    tool = built_program("FLOE_TOOL", "the floe tool")
    shown = json.loads(subprocess.run([tool, "inspect", "Attributed", "--json"], check=True,
                                      capture_output=True, text=True, timeout=10).stdout)
    assert [(a["key"], a["value"]) for a in shown["attributes"]] == [
        ("camera", "back"), ("camera", "front"), ("resolution", "1920x1080")]
    assert service.attributes().values("camera") == ["back", "front"]
    assert len(service.attributes()) == 3


def test_a_python_opener_requires_what_a_python_creator_defined(domain, python_peer):
    peer = python_peer("header-server", 1)
    assert peer.process.stdout.readline() == "ready\n"
    node = floe.Node.create("opener")
    service = header_service_builder(node).required_attributes(
        floe.AttributeVerifier().require("origin", "python")).open()
    assert service.attributes().items() == [("origin", "python"), ("version", "1")]
    with pytest.raises(floe.IncompatibleAttributes, match="'origin' is 'python'"):
        header_service_builder(node).required_attributes(
            floe.AttributeVerifier().require("origin", "cpp")).open()
    let_the_peer_end(service)
    assert peer.finish()[0] == 0


def test_invalid_attributes_raise_cpps_errors():
    with pytest.raises(floe.InvalidAttributes, match="attribute key '' has 0 bytes; want 1 to 63"):
        floe.AttributeSpecifier().define("", "value")
    with pytest.raises(floe.InvalidAttributes, match="has 64 bytes; want 1 to 63"):
        floe.AttributeSpecifier().define("k" * 64, "value")
    with pytest.raises(floe.InvalidAttributes, match="has 192 bytes; want 1 to 191"):
        floe.AttributeVerifier().require("key", "v" * 192)
    with pytest.raises(floe.InvalidAttributes, match="has 0 bytes"):
        floe.AttributeVerifier().require_key("")
    full = floe.AttributeSpecifier()
    for n in range(16):
        full.define(f"key{n}", "value")
    with pytest.raises(floe.InvalidAttributes, match="a service holds at most 16 attributes"):
        full.define("one", "more")


def test_creating_refuses_attributes_that_fail_its_own_requirement(domain):
    node = floe.Node.create("creator")
    builder = plain_builder(node).attributes(floe.AttributeSpecifier().define("camera", "front"))
    builder.required_attributes(floe.AttributeVerifier().require("camera", "back"))
    for create in (builder.create, builder.open_or_create):
        with pytest.raises(floe.IncompatibleAttributes, match="is not created"):
            create()
    assert not node.service_exists("Attributed")


def test_a_verifier_says_what_a_set_lacks():
    verifier = floe.AttributeVerifier().require("camera", "front").require_key("resolution")
    assert verifier.required_attributes().items() == [("camera", "front")]
    assert verifier.required_keys() == ["resolution"]
    front = floe.AttributeSpecifier().define("camera", "front").attributes()
    assert verifier.unmet_requirement(front) == (
        "attribute 'resolution' is required, but it is not defined")
    both = floe.AttributeSpecifier().define("camera", "front").define("resolution", "4k")
    assert verifier.unmet_requirement(both.attributes()) is None
