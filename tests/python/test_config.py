"""Node configuration from Python: floe.Config as C++'s floe::Config (code, a TOML file, the
environment), given to Node.create(name, config)."""

import ctypes
import glob
import signal

import pytest

import floe
from conftest import example, wait_until
from payloads import open_service


def u8_service(node, name="Configured"):
    return node.service_builder(name).request_response(ctypes.c_uint8, ctypes.c_uint8)


@pytest.fixture
def other_domain(domain):
    """A second fresh domain, for a node configured in code; left clean like `domain`."""
    name = f"{domain}_other"
    yield name
    assert glob.glob(f"/dev/shm/floe.{name}.*") == []


def test_a_configured_domain_meets_a_cpp_process_of_that_domain(domain, other_domain, start_peer,
                                                                monkeypatch):
    node = floe.Node.create("client", floe.Config(domain=other_domain))
    assert node.config.domain == other_domain
    monkeypatch.setenv("FLOE_DOMAIN", other_domain)  # for the C++ server only
    server = start_peer(example("request_response_server"), "--seconds", 20)
    monkeypatch.setenv("FLOE_DOMAIN", domain)
    client = open_service(node).client_builder().create()
    wait_until(lambda: client.number_of_servers() > 0, 10, "the C++ server")
    with client.send_copy(0) as pending:
        wait_until(pending.has_response, 10, "its response")
        with pending.receive() as response:
            assert (response.payload().x, response.payload().y) == (5, 0)
    # The environment's domain does not see it.
    assert not floe.Node.create("elsewhere").service_exists("My/Funk/ServiceName")
    assert node.service_exists("My/Funk/ServiceName")
    del client, pending
    server.process.send_signal(signal.SIGTERM)
    assert server.finish()[0] == 0


def test_configured_limits_are_the_defaults_of_the_services_a_node_creates(domain):
    config = floe.Config(domain=domain, request_response={"max_clients": 3, "max_servers": 1})
    node = floe.Node.create("creator", config)
    assert node.config == floe.Config(domain, False, {**floe.Config().request_response,
                                                      "max_clients": 3, "max_servers": 1})
    service = u8_service(node).max_nodes(5).create()
    limits = service.limits()
    assert (limits["max_clients"], limits["max_servers"], limits["max_nodes"]) == (3, 1, 5)
    assert limits["max_loaned_requests"] == floe.Config().request_response["max_loaned_requests"]
    with pytest.raises(floe.ExceedsMaxServers):
        [service.server_builder().create() for _ in range(2)]
    with pytest.raises(ValueError, match="no limit is named max_cleints"):
        floe.Node.create("typo", floe.Config(request_response={"max_cleints": 3}))


def test_a_config_file_is_read_as_cpp_reads_it(domain, tmp_path):
    path = tmp_path / "floe.toml"
    path.write_text(f'[global]\ndomain = "{domain}"\ngroup_access = true\n'
                    "[defaults.request_response]\nmax_clients = 6\n")
    config = floe.Config.from_file(path)
    assert (config.domain, config.group_access, config.request_response["max_clients"]) == (
        domain, True, 6)
    node = floe.Node.create("from-file", config)
    service = u8_service(node).create()
    [info] = node.list_services()
    assert info.owner.endswith("mode 0660") and info.limits["max_clients"] == 6
    del service

    path.write_text("[defaults.request_response]\nmax_clinets = 6\n")
    with pytest.raises(floe.InvalidConfig, match=str(path) + ":2"):
        floe.Config.from_file(path)


def test_the_environment_names_the_file_and_the_domain(domain, tmp_path, monkeypatch):
    path = tmp_path / "floe.toml"
    path.write_text('[global]\ndomain = "from-file"\n[defaults.request_response]\n'
                    "max_servers = 4\n")
    monkeypatch.setenv("FLOE_CONFIG", str(path))
    config = floe.Config.from_environment()
    assert config.domain == domain  # FLOE_DOMAIN wins over the file's
    assert config.request_response["max_servers"] == 4
    assert floe.Node.create("from-environment").config == config


def test_an_invalid_domain_is_refused_when_a_service_is_opened(domain):
    node = floe.Node.create("bad", floe.Config(domain="not a domain"))
    with pytest.raises(floe.InvalidConfig, match="invalid domain 'not a domain'"):
        u8_service(node).create()
    with pytest.raises(floe.InvalidName):
        floe.Node.create("", floe.Config(domain=domain))
