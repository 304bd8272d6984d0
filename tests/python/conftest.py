"""Fixtures of the Python tests: a floe domain per test, peers run as processes of their own."""

import gc
import glob
import itertools
import os
import secrets
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
_domains = itertools.count()


@pytest.fixture
def domain(monkeypatch):
    """A fresh FLOE_DOMAIN for the test and the peers it starts, so tests never share a
    service. Once the test's objects and peers are gone, nothing of it may be left in
    /dev/shm."""
    # A random part too: pids are reused (pid_max may be 32768), and a run killed earlier may
    # have left /dev/shm entries under a name a later process would otherwise take again.
    name = f"pytest{os.getpid()}_{next(_domains)}_{secrets.token_hex(4)}"
    monkeypatch.setenv("FLOE_DOMAIN", name)
    yield name
    gc.collect()
    assert glob.glob(f"/dev/shm/floe.{name}.*") == []


def wait_until(condition, timeout, what):
    """Polls `condition` every millisecond until it is true; fails the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.001)


class Peer:
    """A process started by a test, killed and reaped when the test ends."""

    def __init__(self, args):
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)

    def finish(self, timeout=10):
        """Waits for the peer to exit by itself; returns (exit code, stdout, stderr)."""
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, out, err

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=10)


@pytest.fixture
def start_peer():
    """start_peer(*args): a process running `args`; killed at the test's end if still alive."""
    peers = []

    def start(*args):
        peer = Peer([str(arg) for arg in args])
        peers.append(peer)
        return peer

    yield start
    for peer in peers:
        peer.kill()


@pytest.fixture
def python_peer(start_peer):
    """python_peer(*args): tests/python/peer.py run by this interpreter with `args`."""
    return lambda *args: start_peer(sys.executable, os.path.join(HERE, "peer.py"), *args)


def example(name):
    """The path of a C++ example built with the tests (FLOE_EXAMPLES_DIR, set by CTest)."""
    directory = os.environ.get("FLOE_EXAMPLES_DIR")
    if not directory:
        pytest.skip("FLOE_EXAMPLES_DIR is not set: run through CTest, which sets it")
    return os.path.join(directory, name)


def built_program(variable, what):
    """The path of a program CTest names in `variable`; skips the test outside CTest."""
    path = os.environ.get(variable)
    if not path:
        pytest.skip(f"{variable} is not set: run through CTest, which sets it to {what}")
    return path


@pytest.fixture
def ready_peer(start_peer, python_peer):
    """ready_peer(mode, language, requests): tests/python/cpp_peer.cpp run in `mode`, or
    peer.py's in Python, once it said it is ready (it created its service)."""

    def start(mode, language, requests):
        if language == "cpp":
            peer = start_peer(built_program("FLOE_PYTHON_TEST_PEER", "floe_python_test_peer"),
                              mode, requests)
        else:
            peer = python_peer(mode, requests)
        assert peer.process.stdout.readline() == "ready\n", peer.process.stderr.read()
        return peer

    return start


@pytest.fixture
def header_peer(ready_peer):
    """header_peer(language, requests): ready_peer's header-server."""
    return lambda language, requests: ready_peer("header-server", language, requests)
