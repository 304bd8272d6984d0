"""The package's type stubs (floe/__init__.pyi, installed with py.typed): they name what the
package has, and, where Debian's mypy is installed, type-check a program using floe."""

import ast
import enum
import importlib.util
import inspect
import os
import subprocess
import sys
import textwrap

import pytest

import floe

STUBS = os.path.join(os.path.dirname(floe.__file__), "__init__.pyi")


def stub_classes():
    """{class name: names defined in its body and its stub bases'} of the stubs' classes."""
    tree = ast.parse(open(STUBS, encoding="utf-8").read(), STUBS)
    classes = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names = set()
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(item.name)
                elif isinstance(item, ast.AnnAssign):
                    names.add(item.target.id)
                elif isinstance(item, ast.Assign):
                    names.update(target.id for target in item.targets)
            for base in node.bases:
                if isinstance(base, ast.Name) and base.id in classes:
                    names |= classes[base.id]
            classes[node.name] = names
    return classes, tree


def test_the_stubs_name_every_public_class_function_and_method():
    classes, tree = stub_classes()
    functions = {node.name for node in tree.body
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    constants = {node.target.id for node in tree.body
                 if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)}
    public = set(floe.__all__)
    assert sorted(public - set(classes) - functions - constants) == []
    stubs_public = {name for name in set(classes) | functions | constants
                    if not name.startswith("_")}
    assert sorted(stubs_public - public) == [], "the stubs declare names __all__ lacks"
    for name in sorted(public & set(classes)):
        runtime = getattr(floe, name)
        if issubclass(runtime, (floe.Error, tuple, enum.Enum)):
            continue
        methods = {member for member, _ in inspect.getmembers(runtime)
                   if not member.startswith("_")}
        assert sorted(methods - classes[name]) == [], f"floe.{name} has methods the stubs lack"


def debian_mypy():
    """Whether Debian's python3-mypy is installed for this interpreter (the tests never install
    it)."""
    spec = importlib.util.find_spec("mypy")
    return spec is not None and spec.origin.startswith("/usr/lib/python3/dist-packages/")


CHECKED = '''
import asyncio
import ctypes

import floe


class TransmissionData(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int32), ("y", ctypes.c_int32), ("funky", ctypes.c_double)]
    floe_type_name = "examples::TransmissionData"


def ask(node: floe.Node) -> list[int]:
    service = (node.service_builder("My/Funk/ServiceName")
               .request_response(ctypes.c_uint64, TransmissionData)
               .attributes(floe.AttributeSpecifier().define("camera", "front"))
               .max_clients(4).open_or_create())
    client: floe.Client[ctypes.c_uint64, TransmissionData] = service.client_builder().create()
    xs: list[int] = []
    with client.loan() as request:
        request.payload().value = 7
        pending = request.send()
    with pending:
        response = pending.receive()
        if response is not None:
            xs.append(response.payload().x)
            copied: TransmissionData = response.payload().copy()
            xs.append(copied.y)
    return xs


async def serve(server: floe.Server[ctypes.c_uint64, TransmissionData]) -> None:
    with await server.receive_async() as active:
        active.send_copy(TransmissionData(1, 2, 3.5))


def frames(node: floe.Node) -> bytes:
    service = (node.service_builder("Frames")
               .request_response(floe.Slice(floe.byte), floe.Slice(TransmissionData))
               .request_max_slice_len(64).response_max_slice_len(8).open_or_create())
    client: floe.Client[floe.byte, TransmissionData] = (
        service.client_builder().initial_max_slice_len(16).create())
    with client.loan_slice(3) as request:
        request.payload()[0] = 1
        request.send().release()
    return client.send_copy(b"abc").copy_payload()


def look(node: floe.Node) -> list[tuple[str, int, bool]]:
    return [(n.name, n.pid, n.alive) for info in node.list_services()
            if info.state is floe.ServiceState.LIVE for n in info.nodes]


node = floe.Node.create("typed", floe.Config(domain="typed"))
print(ask(node), look(node), node.config.request_response["max_clients"])
asyncio.run(serve(node.service_builder("S").request_response(ctypes.c_uint8, ctypes.c_uint8)
                  .open_or_create().server_builder().create()))  # type: ignore[arg-type]
'''


def run_mypy(tmp_path, source):
    program = tmp_path / "program.py"
    program.write_text(textwrap.dedent(source))
    environment = dict(os.environ, MYPYPATH=os.path.dirname(os.path.dirname(floe.__file__)))
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                           "--cache-dir", str(tmp_path / "cache"), str(program)],
                          capture_output=True, text=True, env=environment, timeout=240)


@pytest.mark.skipif(not debian_mypy(), reason="Debian's python3-mypy is not installed")
def test_mypy_accepts_a_typed_program_and_refuses_a_wrong_one(tmp_path):
    checked = run_mypy(tmp_path, CHECKED)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    wrong = run_mypy(tmp_path, CHECKED + '\nnode.list_services()[0].nodes[0].pid + "1"\n'
                                        'floe.Node.create(7)\n')
    assert wrong.returncode == 1, wrong.stdout
    assert 'Unsupported operand types for + ("int" and "str")' in wrong.stdout
    assert 'Argument 1 to "create" of "Node" has incompatible type "int"' in wrong.stdout
