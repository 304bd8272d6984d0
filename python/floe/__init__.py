"""floe for Python: zero-copy shared-memory request-response, talking to C++ processes.

Payload types are ctypes types (a simple type such as ctypes.c_uint64, a ctypes.Structure or
Union, or an array of them); a class attribute `floe_type_name` names the type as C++'s
`floe_type_name` does, so a Python and a C++ process open the same service. docs/PYTHON.md
explains the mapping.
"""

import asyncio
import collections
import ctypes
import threading
import weakref

from . import _floe

__all__ = [
    "ActiveRequest", "Client", "Error", "Node", "PayloadView", "PendingResponse",
    "ReleasedError", "RequestHeader", "RequestMut", "Response", "ResponseHeader", "ResponseMut",
    "Server", "Service", "type_name",
]


# Errors ------------------------------------------------------------------------------------

class Error(Exception):
    """What every floe call raises for a floe::Errc; `code` is the Errc's name."""

    code = None


def _class_name(errc_name):
    return "".join(part.capitalize() for part in errc_name.split("_"))


for _value, _name in _floe.errc_names.items():
    _class = type(_class_name(_name), (Error,), {"code": _name, "__module__": __name__})
    globals()[_class.__name__] = _class
    __all__.append(_class.__name__)
    _floe.error_classes[_value] = _class
del _value, _name, _class


class ReleasedError(Error):
    """A message (or its payload view) used after it was released: sent, dropped, or its
    with-block left."""

    code = "released"


_floe.set_released_error(ReleasedError)


# Payload types -----------------------------------------------------------------------------

# g++'s spelling of the C++ type each ctypes simple type is (by its ctypes type code), which is
# what a C++ process built by g++ records for it (floe::TypeName).
_SIMPLE_TYPE_NAMES = {
    "L": "long unsigned int", "l": "long int",
    "Q": "long long unsigned int", "q": "long long int",
    "I": "unsigned int", "i": "int",
    "H": "short unsigned int", "h": "short int",
    "B": "unsigned char", "b": "signed char", "c": "char",
    "d": "double", "f": "float", "g": "long double", "?": "bool", "u": "wchar_t",
}
_CTYPES_OBJECTS = (ctypes._SimpleCData, ctypes.Structure, ctypes.Union, ctypes.Array)
_RULE = ("a floe payload type must be a fixed-size ctypes type without pointers: a ctypes "
         "simple type such as ctypes.c_uint64, a ctypes.Structure or ctypes.Union of such "
         "fields, or an array of them (element * n)")


def _check_fixed_size(payload_type, shown):
    """Raises TypeError unless `payload_type` may live in shared memory (no pointer inside)."""
    if not isinstance(payload_type, type):
        raise TypeError(f"floe: {shown!r} is not a type; {_RULE}")
    if issubclass(payload_type, ctypes._SimpleCData):
        if payload_type._type_ not in _SIMPLE_TYPE_NAMES:
            raise TypeError(f"floe: {shown.__name__} holds a pointer or Python object; {_RULE}")
    elif issubclass(payload_type, ctypes.Array):
        _check_fixed_size(payload_type._type_, shown)
    elif issubclass(payload_type, (ctypes.Structure, ctypes.Union)):
        for field in payload_type._fields_:
            _check_fixed_size(field[1], shown)
    else:
        raise TypeError(f"floe: {getattr(shown, '__name__', shown)!r} is not a ctypes type; "
                        f"{_RULE}")


def type_name(payload_type):
    """The name `payload_type` is recorded under in a service: its floe_type_name, else g++'s
    spelling of the matching C++ type (docs/PYTHON.md has the table)."""
    explicit = getattr(payload_type, "floe_type_name", None)
    if explicit is not None:
        if not isinstance(explicit, str) or not explicit:
            raise TypeError(f"floe: {payload_type.__name__}.floe_type_name must be a non-empty "
                            "str")
        return explicit
    if issubclass(payload_type, ctypes._SimpleCData):
        return _SIMPLE_TYPE_NAMES[payload_type._type_]
    if issubclass(payload_type, ctypes.Array):
        dimensions = ""
        while issubclass(payload_type, ctypes.Array):
            dimensions += f"[{payload_type._length_}]"
            payload_type = payload_type._type_
        return f"{type_name(payload_type)} {dimensions}"
    return payload_type.__name__


def _type_info(payload_type):
    """(name, size, alignment) as the service records it; TypeError for a type floe cannot
    carry."""
    _check_fixed_size(payload_type, payload_type)
    size = ctypes.sizeof(payload_type)
    if size == 0:
        raise TypeError(f"floe: {payload_type.__name__} has size 0; {_RULE}")
    return (type_name(payload_type), size, ctypes.alignment(payload_type))


# Payload views -----------------------------------------------------------------------------

class PayloadView:
    """A payload in shared memory: attribute and item access go to the ctypes object that lies
    there, while its message is held; afterwards they raise ReleasedError. The view does not
    keep its message: dropping the message's last reference releases it. Sub-objects taken
    from it (a nested Structure, an array field) are ctypes objects of their own and are not
    checked: read values out, or use copy()."""

    __slots__ = ("_message", "_object", "_writable")

    def __init__(self, message, payload_object, writable):
        object.__setattr__(self, "_message", weakref.ref(message))
        object.__setattr__(self, "_object", payload_object)
        object.__setattr__(self, "_writable", writable)

    def _is_held(self):
        message = self._message()
        return message is not None and message.held()

    def _held(self):
        if not self._is_held():
            raise ReleasedError("floe: this payload's message was released (sent, or its "
                                "with-block left): it may hold another message now")
        return self._object

    def _check_writable(self):
        if not self._writable:
            raise AttributeError("floe: a received payload is read-only")

    def __getattr__(self, name):
        return getattr(self._held(), name)

    def __setattr__(self, name, value):
        self._check_writable()
        setattr(self._held(), name, value)

    def __getitem__(self, index):
        return self._held()[index]

    def __setitem__(self, index, value):
        self._check_writable()
        self._held()[index] = value

    def __len__(self):
        return len(self._held())

    def copy(self):
        """The payload copied out of shared memory: a ctypes object of its own."""
        payload = self._held()
        return type(payload).from_buffer_copy(payload)

    def __repr__(self):
        if not self._is_held():
            return "<floe.PayloadView, released>"
        payload = self._object
        if isinstance(payload, ctypes._SimpleCData):
            return f"<floe.PayloadView {type(payload).__name__}({payload.value!r})>"
        fields = getattr(payload, "_fields_", None)
        if fields is None:
            return f"<floe.PayloadView {type(payload).__name__}>"
        shown = ", ".join(f"{field[0]}={getattr(payload, field[0])!r}" for field in fields)
        return f"<floe.PayloadView {type(payload).__name__}({shown})>"


def _view(message, payload_type, writable):
    return PayloadView(message, payload_type.from_buffer(message.payload()), writable)


def _as_payload(value, payload_type):
    """`value` as a `payload_type` object: itself, or a plain value of a simple type."""
    if isinstance(value, payload_type):
        return value
    if issubclass(payload_type, ctypes._SimpleCData) and not isinstance(value, _CTYPES_OBJECTS):
        return payload_type(value)
    raise TypeError(f"floe: send_copy takes a {payload_type.__name__}, not "
                    f"{type(value).__name__}")


RequestHeader = collections.namedtuple("RequestHeader", ["client_id", "request_id"])
ResponseHeader = collections.namedtuple("ResponseHeader",
                                        ["server_id", "request_id", "sequence_number"])


class _Held:
    """A message or port, held until release(), the end of its with-block, or its last
    reference."""

    __slots__ = ("_raw", "_types")

    def __init__(self, raw, types):
        self._raw = raw
        self._types = types

    def release(self):
        """Gives it back as the C++ destructor does; a message used later raises
        ReleasedError. A port's messages keep the port until they go."""
        self._raw.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.release()


class _Message(_Held):
    """A message: a loan, a stream, a response or a request held open."""

    __slots__ = ()

    def held(self):
        """Whether this still holds its message."""
        return self._raw.held()


# asyncio -----------------------------------------------------------------------------------

# How often a loop with waits pending looks at them even if its fd stays quiet, as the C++
# runtime's RuntimeOptions::safety_recheck: a peer that failed to ring, or a peer death no pidfd
# reported, delays a message by at most this long. Waking is the fd's job, not this timer's.
_SAFETY_RECHECK_SECONDS = 1.0


class _LoopWaiter:
    """The floe reactor of one asyncio loop: its fd is watched with loop.add_reader while a wait
    is pending, so the loop's own selector wakes for floe next to its sockets."""

    def __init__(self, loop):
        # Weak: _loop_waiters maps the loop to this, and a value holding its weak key keeps it
        # (and this reactor's fd) alive forever.
        self._loop = weakref.ref(loop)
        self._raw = _floe.LoopWaiter()
        self._reading = False
        self._recheck = None

    def start(self, operation, done):
        operation.begin(self._raw, done)
        self._update(self._raw.arm())

    def cancel(self, operation):
        operation.cancel()
        self._update(self._raw.arm())

    def _on_readable(self):
        self._update(self._raw.on_readable())

    def _on_recheck(self):
        self._recheck = None
        self._update(self._raw.recheck())

    def _update(self, waiting):
        loop = self._loop()
        if loop is None:
            return
        if waiting and not self._reading:
            loop.add_reader(self._raw.fd(), self._on_readable)
            self._reading = True
        elif not waiting and self._reading:
            loop.remove_reader(self._raw.fd())
            self._reading = False
        if waiting and self._recheck is None:
            self._recheck = loop.call_later(_SAFETY_RECHECK_SECONDS, self._on_recheck)
        elif not waiting and self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None


_loop_waiters = weakref.WeakKeyDictionary()


# What a wait ends with when a message that another wait of its port took, and kept when it was
# cancelled, is there to take instead.
_TAKE_KEPT = object()


class _Kept:
    """Of one port: the messages its cancelled waits took (handed out first by its next
    receive), and its waits pending (future -> operation)."""

    __slots__ = ("messages", "waits")

    def __init__(self):
        self.messages = collections.deque()
        self.waits = {}

    def keep(self, raw):
        """Keeps a message a cancelled wait took. Another wait of the port may sleep on the
        port's queue, which no longer holds it: that one ends with _TAKE_KEPT and takes it."""
        self.messages.append(raw)
        for future in self.waits:
            if not future.done():
                future.set_result(_TAKE_KEPT)
                return


def _wake(future):
    if not future.done():
        future.set_result(None)


async def _wait(operation, kept):
    """Awaits `operation` in the running loop's reactor: its result(), or _TAKE_KEPT. Cancelled
    (task cancel, asyncio.wait_for), it takes nothing: a message it took already goes to
    kept.keep()."""
    loop = asyncio.get_running_loop()
    waiter = _loop_waiters.get(loop)
    if waiter is None:
        waiter = _loop_waiters[loop] = _LoopWaiter(loop)
    future = loop.create_future()
    # The operation holds `done` in C++, where Python's collector cannot see it: a strong
    # reference to the future would make task -> operation -> future -> task a cycle it never
    # frees, so a task dropped while it waits (its loop closed, or the interpreter exiting)
    # would keep its ports, and their shared memory, forever.
    waking = weakref.ref(future)
    thread = threading.get_ident()

    def done():
        woken = waking()
        if woken is None or woken.get_loop().is_closed():  # nobody can await it any more
            return
        if threading.get_ident() == thread:
            _wake(woken)
        else:  # completed by a port released in another thread, while the loop may sleep
            woken.get_loop().call_soon_threadsafe(_wake, woken)

    waiter.start(operation, done)
    kept.waits[future] = operation
    try:
        if await future is _TAKE_KEPT:
            waiter.cancel(operation)
            if operation.has_value():  # took one meanwhile: kept for the next receive too
                kept.keep(operation.result())
            return _TAKE_KEPT
    except asyncio.CancelledError:
        waiter.cancel(operation)
        if operation.has_value():
            kept.keep(operation.result())
        raise
    finally:
        del kept.waits[future]
    return operation.result()


# Client side -------------------------------------------------------------------------------

class Response(_Message):
    """A response in shared memory, borrowed from its server until released."""

    __slots__ = ()

    def payload(self):
        """The response payload (read-only), valid while this is held."""
        return _view(self._raw, self._types[1], writable=False)

    def header(self):
        """ResponseHeader(server_id, request_id, sequence_number)."""
        return ResponseHeader(*self._raw.header())


class PendingResponse(_Message):
    """The stream of responses to one request. Releasing it tells the servers nobody listens.
    `async for response in pending:` receives each response as it arrives, until the stream
    ends."""

    __slots__ = ("_kept",)

    def __init__(self, raw, types):
        super().__init__(raw, types)
        self._kept = _Kept()

    def receive(self):
        """The next response, or None when none is there now. Never waits."""
        if self._kept.messages:
            return Response(self._kept.messages.popleft(), self._types)
        raw = self._raw.try_receive()
        return None if raw is None else Response(raw, self._types)

    async def receive_async(self):
        """The next response, waiting in the running asyncio loop; None once every server
        ended its stream (or died) and everything sent was received. Cancellable without
        losing a response."""
        while True:
            response = self.receive()
            if response is not None:
                return response
            raw = await _wait(self._raw.receive_operation(), self._kept)
            # Ended, with a response a cancelled wait kept meanwhile: that one comes first.
            if raw is not _TAKE_KEPT and (raw is not None or not self._kept.messages):
                return None if raw is None else Response(raw, self._types)

    def __aiter__(self):
        return self

    async def __anext__(self):
        response = await self.receive_async()
        if response is None:
            raise StopAsyncIteration
        return response

    def is_connected(self):
        """False once every server the request reached dropped it, went or died."""
        return self._raw.is_connected()

    def has_response(self):
        """Whether receive() would yield a response now."""
        return self._raw.has_response()

    def number_of_server_connections(self):
        """The servers still holding the request open."""
        return self._raw.number_of_server_connections()

    def number_of_overwritten_responses(self):
        """Responses safe overflow overwrote before they were received."""
        return self._raw.number_of_overwritten_responses()

    def set_disconnect_hint(self):
        """Tells the servers this client will stop listening soon."""
        self._raw.set_disconnect_hint()

    def payload(self):
        """The request as sent (read-only)."""
        return _view(self._raw, self._types[0], writable=False)

    def header(self):
        """RequestHeader(client_id, request_id) of the request sent."""
        return RequestHeader(*self._raw.header())


class RequestMut(_Message):
    """A request loaned in shared memory: write its payload in place, then send()."""

    __slots__ = ()

    def payload(self):
        """The request payload, written in place in shared memory."""
        return _view(self._raw, self._types[0], writable=True)

    def header(self):
        """RequestHeader(client_id, request_id); request_id is 0 until sent."""
        return RequestHeader(*self._raw.header())

    def send(self):
        """Delivers the request to every server connected now; returns its PendingResponse.
        Raises ExceedsMaxActiveRequests (the request then stays loaned)."""
        return PendingResponse(self._raw.send(), self._types)


class Client(_Held):
    """A client port of a service."""

    __slots__ = ()

    def loan(self):
        """A zeroed request in shared memory. Raises ExceedsMaxLoans."""
        return RequestMut(self._raw.loan(), self._types)

    def loan_uninit(self):
        """A request whose payload holds whatever the chunk last held: write all of it."""
        return RequestMut(self._raw.loan_uninit(), self._types)

    def send_copy(self, value):
        """Copies `value` (a request payload, or a plain value of a simple type) into shared
        memory and sends it; returns its PendingResponse."""
        payload = _as_payload(value, self._types[0])
        return PendingResponse(self._raw.send_copy(payload), self._types)

    def id(self):
        """This client's id: the RequestHeader.client_id of its requests."""
        return self._raw.id()

    def number_of_servers(self):
        """The servers of the service now."""
        return self._raw.number_of_servers()

    def max_active_requests(self):
        """The requests this client may have open at once."""
        return self._raw.max_active_requests()


# Server side -------------------------------------------------------------------------------

class ResponseMut(_Message):
    """A response loaned in shared memory: write its payload in place, then send()."""

    __slots__ = ()

    def payload(self):
        """The response payload, written in place in shared memory."""
        return _view(self._raw, self._types[1], writable=True)

    def send(self):
        """Delivers the response; False when the client stopped listening."""
        return self._raw.send()


class ActiveRequest(_Message):
    """A request as a server holds it open; releasing it ends the client's stream."""

    __slots__ = ()

    def payload(self):
        """The request payload (read-only)."""
        return _view(self._raw, self._types[0], writable=False)

    def header(self):
        """RequestHeader(client_id, request_id)."""
        return RequestHeader(*self._raw.header())

    def is_connected(self):
        """False once the client dropped its PendingResponse, went or died."""
        return self._raw.is_connected()

    def has_disconnect_hint(self):
        """True once the client said it will stop listening soon."""
        return self._raw.has_disconnect_hint()

    def loan(self):
        """A zeroed response in shared memory. Raises ExceedsMaxLoans."""
        return ResponseMut(self._raw.loan(), self._types)

    def loan_uninit(self):
        """A response whose payload holds whatever the chunk last held: write all of it."""
        return ResponseMut(self._raw.loan_uninit(), self._types)

    def send_copy(self, value):
        """Copies `value` into shared memory and sends it; False when the client stopped
        listening."""
        return self._raw.send_copy(_as_payload(value, self._types[1]))


class Server(_Held):
    """A server port of a service."""

    __slots__ = ("_kept",)

    def __init__(self, raw, types):
        super().__init__(raw, types)
        self._kept = _Kept()

    def receive(self):
        """The next request, or None when none is waiting. Never waits."""
        if self._kept.messages:
            return ActiveRequest(self._kept.messages.popleft(), self._types)
        raw = self._raw.try_receive()
        return None if raw is None else ActiveRequest(raw, self._types)

    async def receive_async(self):
        """The next request, waiting in the running asyncio loop (woken by the client's
        notification through the loop's own selector). Cancellable without losing a request."""
        while True:
            active = self.receive()
            if active is not None:
                return active
            raw = await _wait(self._raw.receive_operation(), self._kept)
            if raw is not _TAKE_KEPT:
                return ActiveRequest(raw, self._types)

    def has_requests(self):
        """Whether a request is waiting."""
        return self._raw.has_requests()

    def id(self):
        """This server's id: the ResponseHeader.server_id of its responses."""
        return self._raw.id()


# Service -----------------------------------------------------------------------------------

class _PortBuilder:
    """What a port builder shares: one limit of the port's own, then create()."""

    def __init__(self, service, make_raw, port_type):
        self._types = service._types
        self._make_raw = make_raw
        self._port_type = port_type
        self._limit = None

    def _set_limit(self, value):
        self._limit = value
        return self

    def create(self):
        """A port of its own in the service. Raises ExceedsMaxClients / ExceedsMaxServers,
        IncompatibleLimits for a limit above the service's."""
        return self._port_type(self._make_raw(self._limit), self._types)


class ClientBuilder(_PortBuilder):
    """Service.client_builder(): a client's own limits, then create()."""

    def __init__(self, service):
        super().__init__(service, service._raw.create_client, Client)

    def max_active_requests(self, value):
        """At most the service's max_active_requests_per_client."""
        return self._set_limit(value)


class ServerBuilder(_PortBuilder):
    """Service.server_builder(): a server's own limits, then create()."""

    def __init__(self, service):
        super().__init__(service, service._raw.create_server, Server)

    def max_loaned_responses_per_request(self, value):
        """At most the service's max_loaned_responses_per_request."""
        return self._set_limit(value)


class Service:
    """A request-response service, opened or created by RequestResponseBuilder."""

    def __init__(self, raw, types):
        self._raw = raw
        self._types = types

    @property
    def name(self):
        """The service's name."""
        return self._raw.name

    def limits(self):
        """The limits the service was created with, by name."""
        return self._raw.limits()

    def client_builder(self):
        """A builder for a client of this service."""
        return ClientBuilder(self)

    def server_builder(self):
        """A builder for a server of this service."""
        return ServerBuilder(self)


class RequestResponseBuilder:
    """Names the payload types and limits of a service, then create(), open() or
    open_or_create(); every limit of the C++ builder is a method of the same name."""

    def __init__(self, node, name, request_type, response_type):
        self._node = node
        self._name = name
        self._types = (request_type, response_type)
        self._type_infos = (_type_info(request_type), _type_info(response_type))
        self._limits = {}
        self._alignments = [None, None]

    def _set_limit(self, name, value):
        self._limits[name] = int(value)
        return self

    def request_payload_alignment(self, alignment):
        """Request payloads start at a multiple of `alignment` bytes."""
        self._alignments[0] = alignment
        return self

    def response_payload_alignment(self, alignment):
        """Response payloads start at a multiple of `alignment` bytes."""
        self._alignments[1] = alignment
        return self

    def _build(self, mode):
        raw = _floe.open_service(self._node, self._name, *self._type_infos, self._limits,
                                 *self._alignments, mode)
        return Service(raw, self._types)

    def create(self):
        """Creates the service. Raises ServiceAlreadyExists, OutOfMemory, ..."""
        return self._build("create")

    def open(self):
        """Opens the service. Raises ServiceDoesNotExist, IncompatibleTypes, ..."""
        return self._build("open")

    def open_or_create(self):
        """Opens the service, or creates it if there is none."""
        return self._build("open_or_create")


def _limit_setter(limit):
    def setter(self, value):
        return self._set_limit(limit, value)
    setter.__name__ = limit
    setter.__doc__ = f"The service's {limit} (floe/limits.hpp)."
    return setter


for _limit in _floe.limit_names:
    setattr(RequestResponseBuilder, _limit, _limit_setter(_limit))
del _limit


class ServiceBuilder:
    """Node.service_builder(name): the pattern comes next."""

    def __init__(self, node, name):
        self._node = node
        self._name = name

    def request_response(self, request_type, response_type):
        """A request-response service with these ctypes payload types; TypeError for a type
        floe cannot carry."""
        return RequestResponseBuilder(self._node, self._name, request_type, response_type)


class Node:
    """One participant (usually one per process) that opens services."""

    def __init__(self, raw):
        self._raw = raw

    @staticmethod
    def create(name):
        """A node with the configuration of the environment (FLOE_DOMAIN, FLOE_CONFIG)."""
        return Node(_floe.Node.create(name))

    @property
    def name(self):
        """The name given at creation."""
        return self._raw.name

    def service_builder(self, name):
        """The first step of opening the service `name`."""
        return ServiceBuilder(self._raw, name)

    def service_exists(self, name):
        """Whether a live service has this name."""
        return self._raw.service_exists(name)
