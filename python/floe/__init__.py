"""floe for Python: zero-copy shared-memory request-response, talking to C++ processes.

Payload types are ctypes types (a simple type such as ctypes.c_uint64, a ctypes.Structure or
Union, or an array of them); a class attribute `floe_type_name` names the type as C++'s
`floe_type_name` does, so a Python and a C++ process open the same service. docs/PYTHON.md
explains the mapping.
"""

import asyncio
import collections
import ctypes
import dataclasses
import enum
import operator
import threading
import types
import weakref

from . import _floe

__all__ = [
    "ActiveRequest", "Client", "Error", "Node", "PayloadView", "PendingResponse",
    "ReleasedError", "RequestHeader", "RequestMut", "Response", "ResponseHeader", "ResponseMut",
    "Server", "Service", "type_name",
    # the builders service_builder(), request_response(), client_builder(), server_builder() return
    "ServiceBuilder", "RequestResponseBuilder", "ClientBuilder", "ServerBuilder",
    # user headers, attributes, introspection, configuration
    "Attribute", "AttributeSet", "AttributeSpecifier", "AttributeVerifier", "Config",
    "DeadNodeCleanup", "NodeInfo", "ServiceInfo", "ServiceState", "ServiceUsage",
    # flow control, server waiting
    "AllocationStrategy", "Backpressure", "SEND_TIMEOUT_SECONDS", "StreamEnd", "call_async",
    # fixed-capacity containers (C++'s floe::FixedString, floe::FixedVector)
    "FixedString", "FixedVector",
    # slices: payloads of a run of elements whose length each message sets (floe::Slice<T>)
    "Slice", "byte",
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


# Flow control ------------------------------------------------------------------------------

class AllocationStrategy(enum.Enum):
    """What a loan of a longer slice than a port may loan now does (floe::AllocationStrategy):
    set with client_builder().allocation_strategy(...) / server_builder().allocation_strategy(...)."""

    FIXED = "fixed"
    """The default: raises ExceedsMaxSliceLen."""
    POWER_OF_TWO = "power_of_two"
    """Grows the port: up to the service's max in place, above it into a data segment of the
    port's own whose slices hold the next power of two of elements (a slow path)."""
    BEST_FIT = "best_fit"
    """Grows as POWER_OF_TWO does, into data segments of exactly the length loaned."""


class Backpressure(enum.Enum):
    """What a port does when the other side has no room (floe::Backpressure): set with
    client_builder().backpressure(...) / server_builder().backpressure(...)."""

    DISCARD = "discard"
    """A response that finds the client's buffer full is not delivered: send() returns False."""
    BLOCK = "block"
    """A response waits for room: `await send_async()` suspends only its task; the synchronous
    send() waits with the GIL released for at most its `timeout`, then raises TimedOut."""


class StreamEnd(enum.IntEnum):
    """Why a PendingResponse's stream is over, or that it is not (floe::StreamEnd)."""

    def __str__(self):
        return f"StreamEnd.{self.name}"  # an IntEnum prints as its number otherwise

    OPEN = 0
    """A server still holds the request open: more responses may come."""
    FINISHED = 1
    """Every server the request reached ended its stream."""
    NO_SERVER = 2
    """The request reached no server: none was there when it was sent."""
    SERVER_GONE = 3
    """A server the request reached went away (died) without ending its stream."""


# How long a synchronous send under Backpressure.BLOCK waits for room before it raises TimedOut
# (the response then is not sent): a stalled client never hangs a Python thread for good.
SEND_TIMEOUT_SECONDS = 10.0


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


# Fixed-capacity containers --------------------------------------------------------------------

_fixed_types = {}


def FixedString(capacity):  # noqa: N802 (a type factory, named as the type it makes)
    """The ctypes type of C++'s floe::FixedString<capacity>, the same bytes and recorded name,
    so a field of this type in a Structure meets the C++ field across processes:
    `("customer", floe.FixedString(24))`. Its `value` is the text as a str (UTF-8), `bytes`
    the raw characters; assigning a longer text raises ExceedsCapacity and changes nothing.
    The length in shared memory is another process's word: reads are bounded by `capacity`."""
    key = ("string", capacity)
    if key not in _fixed_types:
        if not isinstance(capacity, int) or not 0 < capacity < 1 << 32:
            raise ValueError(f"floe: a FixedString's capacity is 1 to 2**32 - 1, not {capacity!r}")
        _fixed_types[key] = type(f"FixedString_{capacity}", (_FixedString,), {
            "_fields_": [("_size", ctypes.c_uint32), ("_chars", ctypes.c_char * (capacity + 1))],
            "capacity": capacity,
            "floe_type_name": f"floe::FixedString<{capacity}>",
        })
    return _fixed_types[key]


class _FixedString(ctypes.Structure):
    @property
    def bytes(self):
        """The characters held, at most `capacity` whatever length a peer wrote."""
        size = min(self._size, self.capacity)
        return ctypes.string_at(ctypes.addressof(self) + type(self)._chars.offset, size)

    @property
    def value(self):
        return self.bytes.decode("utf-8", "surrogateescape")

    @value.setter
    def value(self, text):
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
        if len(data) > self.capacity:
            raise ExceedsCapacity(
                f"{self.floe_type_name}: cannot hold {len(data)} bytes (capacity "
                f"{self.capacity}); nothing was changed")
        ctypes.memmove(ctypes.addressof(self) + type(self)._chars.offset, data, len(data))
        # A terminating '\0', a courtesy to C readers, as the C++ type writes it.
        ctypes.memset(ctypes.addressof(self) + type(self)._chars.offset + len(data), 0, 1)
        self._size = len(data)

    def assign_truncated(self, text):
        """Holds as much of `text` as fits (C++'s FixedString::truncated): a str is cut at a
        character boundary, never inside a UTF-8 sequence. Returns the bytes it holds."""
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
        kept = min(len(data), self.capacity)
        if isinstance(text, str):
            while kept < len(data) and kept > 0 and data[kept] & 0xC0 == 0x80:
                kept -= 1  # data[kept] continues a character: cut before that character
        self.value = data[:kept]
        return kept

    def __len__(self):
        return min(self._size, self.capacity)

    def __str__(self):
        return self.value

    def __eq__(self, other):
        """The text against a str, bytes or another FixedString of any capacity (a ctypes
        Structure would compare by identity: `payload.name == "Ada"` would always be False)."""
        if isinstance(other, _FixedString):
            return self.bytes == other.bytes
        if isinstance(other, str):
            return self.value == other
        if isinstance(other, (bytes, bytearray, memoryview)):
            return self.bytes == bytes(other)
        return NotImplemented

    __hash__ = None  # mutable, compared by value


def FixedVector(element_type, capacity):  # noqa: N802 (a type factory)
    """The ctypes type of C++'s floe::FixedVector<T, capacity> for the ctypes type
    `element_type` (T's recorded name comes from floe.type_name, as for payloads): a size and
    `capacity` elements. Reads (len, [i], iteration, tolist) are bounded by `capacity` whatever
    size a peer wrote; append / extend past it raise ExceedsCapacity and change nothing."""
    key = ("vector", element_type, capacity)
    if key not in _fixed_types:
        if not isinstance(capacity, int) or not 0 < capacity < 1 << 32:
            raise ValueError(f"floe: a FixedVector's capacity is 1 to 2**32 - 1, not {capacity!r}")
        _check_fixed_size(element_type, element_type)
        _fixed_types[key] = type(f"FixedVector_{element_type.__name__}_{capacity}",
                                 (_FixedVector,), {
            "_fields_": [("_size", ctypes.c_uint32), ("_elements", element_type * capacity)],
            "capacity": capacity,
            "floe_type_name": f"floe::FixedVector<{type_name(element_type)}, {capacity}>",
        })
    return _fixed_types[key]


class _FixedVector(ctypes.Structure):
    def __len__(self):
        return min(self._size, self.capacity)

    def __getitem__(self, index):
        size = len(self)
        if isinstance(index, slice):
            return [self._elements[i] for i in range(*index.indices(size))]
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError(f"{self.floe_type_name}: index {index} of {size} elements")
        return self._elements[index]

    def __setitem__(self, index, value):
        size = len(self)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError(f"{self.floe_type_name}: index {index} of {size} elements")
        self._elements[index] = value

    def __iter__(self):
        return (self._elements[i] for i in range(len(self)))

    def tolist(self):
        return list(self)

    def __eq__(self, other):
        """Element by element against another FixedVector of any capacity, a list or a tuple."""
        if isinstance(other, (_FixedVector, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # mutable, compared by value

    def append(self, value):
        self.extend([value])

    def extend(self, values):
        values = list(values)
        size = len(self)
        if len(values) > self.capacity - size:
            raise ExceedsCapacity(
                f"{self.floe_type_name}: holds {size}, cannot take {len(values)} more (capacity "
                f"{self.capacity}); nothing was changed")
        for offset, value in enumerate(values):
            self._elements[size + offset] = value
        self._size = size + len(values)

    def extend_truncated(self, values):
        """Appends as many of `values` as fit (C++'s append_truncated); returns how many."""
        fitting = list(values)[:self.capacity - len(self)]
        self.extend(fitting)
        return len(fitting)

    def clear(self):
        self._size = 0


# Slices ------------------------------------------------------------------------------------

class byte(ctypes.c_uint8):  # noqa: N801 (named as C++'s std::byte)
    """C++'s std::byte as a ctypes type: one byte, recorded under C++'s name for std::byte, so
    `floe.Slice(floe.byte)` opens a C++ service of `floe::Slice<std::byte>` (ctypes.c_uint8 is
    C++'s unsigned char, a different type to floe)."""

    floe_type_name = "std::byte"


class Slice:
    """A payload that is a run of `element_type` whose length each message sets, up to the
    service's max (C++'s floe::Slice<T>): `request_response(floe.Slice(floe.byte), Sample)`.
    A marker, never stored: floe.Slice(T) is the same object for the same T."""

    __slots__ = ("element_type",)
    _made = {}

    def __new__(cls, element_type):
        made = cls._made.get(element_type)
        if made is None:
            _check_fixed_size(element_type, element_type)
            if ctypes.sizeof(element_type) == 0:
                raise TypeError(f"floe: {element_type.__name__} has size 0; {_RULE}")
            made = super().__new__(cls)
            made.element_type = element_type
            cls._made[element_type] = made
        return made

    def __repr__(self):
        return f"floe.Slice({self.element_type.__name__})"

    def _array(self, nbytes):
        """The ctypes array type of the elements in `nbytes` bytes of payload."""
        return self.element_type * (nbytes // ctypes.sizeof(self.element_type))


def _slice_length(length):
    """`length` as a slice loan takes it: a whole number, 0 or more (the core then checks it
    against the port's maximum)."""
    try:
        count = operator.index(length)
    except TypeError:
        raise TypeError(f"floe: a slice length is a whole number, not {length!r}") from None
    if count < 0:
        raise ValueError(f"floe: a slice length is 0 or more, not {count}")
    return count


def _send_buffer(value, slice_type):
    """`value` (any buffer, or a list or tuple of elements) as a C-contiguous memoryview of the
    bytes a send_copy of a slice copies; TypeError for anything else. Whether the size is a
    whole number of elements is the core's check."""
    if isinstance(value, (list, tuple)):
        value = (slice_type.element_type * len(value))(*value)
    try:
        view = memoryview(value)
    except TypeError:
        raise TypeError(f"floe: send_copy of a {slice_type!r} takes a buffer (bytes, bytearray, "
                        f"memoryview, a ctypes or numpy array) or a list of elements, not "
                        f"{type(value).__name__}") from None
    return view if view.c_contiguous else memoryview(view.tobytes())


def _type_info(payload_type):
    """(name, size, alignment) as the service records it (a Slice: its element's); TypeError
    for a type floe cannot carry."""
    if isinstance(payload_type, Slice):
        payload_type = payload_type.element_type
    _check_fixed_size(payload_type, payload_type)
    size = ctypes.sizeof(payload_type)
    if size == 0:
        raise TypeError(f"floe: {payload_type.__name__} has size 0; {_RULE}")
    return (type_name(payload_type), size, ctypes.alignment(payload_type))


# Payload views -----------------------------------------------------------------------------

class PayloadView:
    """A payload in shared memory: attribute and item access go to the ctypes object that lies
    there, while its message is held; afterwards they raise ReleasedError. The view does not
    keep its message: dropping the message's last reference releases it. A sub-object taken
    from it (a nested Structure or Union, an array field or element) is a view of its own on
    the same message, checked alike."""

    __slots__ = ("_message", "_object", "_writable")
    __class_getitem__ = classmethod(types.GenericAlias)

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

    def _sub_view(self, value):
        """`value`, read from the payload, behind a view of the same message when it is itself
        a ctypes object in shared memory (a nested Structure, an array); an element of a simple
        type that ctypes hands out as an object on the payload's memory (one of a subclass such
        as floe.byte) as its plain value; a list (an array's slice) element by element."""
        if isinstance(value, (ctypes.Structure, ctypes.Union, ctypes.Array)):
            view = object.__new__(PayloadView)
            object.__setattr__(view, "_message", self._message)
            object.__setattr__(view, "_object", value)
            object.__setattr__(view, "_writable", self._writable)
            return view
        if isinstance(value, ctypes._SimpleCData):
            return value.value
        if isinstance(value, list):
            return [self._sub_view(item) for item in value]
        return value

    def __getattr__(self, name):
        return self._sub_view(getattr(self._held(), name))

    def __setattr__(self, name, value):
        self._check_writable()
        setattr(self._held(), name, value)

    def __getitem__(self, index):
        return self._sub_view(self._held()[index])

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
    payload = message.payload()
    if isinstance(payload_type, Slice):  # the elements the message holds, as many as it has
        return PayloadView(message, payload_type._array(payload.nbytes).from_buffer(payload),
                           writable)
    return PayloadView(message, payload_type.from_buffer(payload), writable)


def _copy_payload(message):
    """The payload's bytes copied out of shared memory (raises ReleasedError once released)."""
    return bytes(message.payload())


def _as_payload(value, payload_type):
    """What a send_copy copies: `value` as a `payload_type` object (itself, or a plain value of
    a simple type), or for a slice its bytes (_send_buffer)."""
    if isinstance(payload_type, Slice):
        return _send_buffer(value, payload_type)
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
    # floe.Client[Request, Response] and the like, as the type stubs declare them generic.
    __class_getitem__ = classmethod(types.GenericAlias)

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
    """The floe reactor of one asyncio loop: its fd is watched with loop.add_reader from the
    loop's first floe wait on, so the loop's own selector wakes for floe next to its sockets."""

    def __init__(self, loop):
        # Weak: _loop_waiters maps the loop to this, and a value holding its weak key keeps it
        # (and this reactor's fd) alive forever.
        self._loop = weakref.ref(loop)
        self._raw = _floe.LoopWaiter()
        self._reading = False
        self._recheck_set = False

    def start(self, operation, done):
        operation.begin(self._raw, done)
        self._update(self._raw.arm())

    def cancel(self, operation):
        operation.cancel()
        self._update(self._raw.arm())

    def _on_readable(self):
        self._update(self._raw.on_readable())

    def _on_recheck(self):
        self._recheck_set = False
        self._update(self._raw.recheck())

    def _update(self, waiting):
        # Once watched, the fd stays watched, and the recheck timer, once set, runs out instead
        # of being cancelled when the waits end: a round trip waits and ends a wait on each side,
        # and registering the fd anew (two epoll_ctl calls) and a timer each time cost more than
        # an idle fd in the selector and a timer that finds nothing to do.
        if not waiting:
            return
        loop = self._loop()
        if loop is None:
            return
        # The loop holds this only weakly: it is kept by _loop_waiters as long as its loop, and a
        # handle of the loop holding it would keep its fds open past a closed loop.
        if not self._reading:
            loop.add_reader(self._raw.fd(), _call_waiter, weakref.ref(self),
                            _LoopWaiter._on_readable)
            self._reading = True
        if not self._recheck_set:  # a flag, not the handle: the handle holds the loop
            loop.call_later(_SAFETY_RECHECK_SECONDS, _call_waiter, weakref.ref(self),
                            _LoopWaiter._on_recheck)
            self._recheck_set = True


def _call_waiter(waiter_ref, method):
    waiter = waiter_ref()
    if waiter is not None:
        method(waiter)


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


async def _complete(operation):
    """An operation of the flow control, completed at once when it can (no trip through the
    event loop), else awaited as _wait does; cancelled, it gives back what it took."""
    if operation.try_complete():
        return operation.result()
    return await _wait(operation, _GiveBack())


class _GiveBack:
    """What a cancelled loan or send does with what it completed with in the meantime: gives
    it back (a bool of a settled send has nothing to give). A loan or send is its own only
    wait, so nothing is kept for another."""

    __slots__ = ("waits",)

    def __init__(self):
        self.waits = {}

    @staticmethod
    def keep(taken):
        release = getattr(taken, "release", None)
        if release is not None:
            release()


# Client side -------------------------------------------------------------------------------

class Response(_Message):
    """A response in shared memory, borrowed from its server until released."""

    __slots__ = ()

    def payload(self):
        """The response payload (read-only), valid while this is held; of a slice service, an
        array of as many elements as the server sent."""
        return _view(self._raw, self._types[1], writable=False)

    def copy_payload(self):
        """The payload's bytes, copied out of shared memory (numpy.frombuffer takes them)."""
        return _copy_payload(self._raw)

    def header(self):
        """ResponseHeader(server_id, request_id, sequence_number)."""
        return ResponseHeader(*self._raw.header())

    def user_header(self):
        """The response user header (read-only), valid while this is held."""
        return _user_header_view(self._raw, self._types, _RESPONSE, writable=False)


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

    def copy_payload(self):
        """The request's payload bytes as sent, copied out of shared memory."""
        return _copy_payload(self._raw)

    def header(self):
        """RequestHeader(client_id, request_id) of the request sent."""
        return RequestHeader(*self._raw.header())

    def user_header(self):
        """The request user header as sent (read-only)."""
        return _user_header_view(self._raw, self._types, _REQUEST, writable=False)

    def end_reason(self):
        """Why the stream is over (StreamEnd), or StreamEnd.OPEN while it is not: tells a
        request nobody got (NO_SERVER) from one a server finished or died with."""
        return StreamEnd(_floe.pending_end_reason(self._raw))


class RequestMut(_Message):
    """A request loaned in shared memory: write its payload in place, then send()."""

    __slots__ = ()

    def payload(self):
        """The request payload, written in place in shared memory; of a slice service, an array
        of the elements loaned."""
        return _view(self._raw, self._types[0], writable=True)

    def copy_payload(self):
        """The payload's bytes as written so far, copied out of shared memory."""
        return _copy_payload(self._raw)

    def header(self):
        """RequestHeader(client_id, request_id); request_id is 0 until sent."""
        return RequestHeader(*self._raw.header())

    def send(self):
        """Delivers the request to every server connected now; returns its PendingResponse.
        Raises ExceedsMaxActiveRequests (the request then stays loaned)."""
        return PendingResponse(self._raw.send(), self._types)

    def user_header(self):
        """The request user header, written in place (zeroed by every loan)."""
        return _user_header_view(self._raw, self._types, _REQUEST, writable=True)

    async def send_async(self):
        """send() that waits, in the running asyncio loop, while the client has
        max_active_requests requests open (woken when one ends). Cancelled before it sent, it
        sends nothing and gives the request back."""
        raw = await _complete(_floe.request_send_operation(self._raw))
        return PendingResponse(raw, self._types)


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
        memory and sends it; returns its PendingResponse. Of a slice service, `value` is any
        buffer (bytes, a ctypes or numpy array, ...) of a whole number of elements (else
        TypeError), or a list of elements: the request holds that many. Raises
        ExceedsMaxSliceLen for more than initial_max_slice_len."""
        payload = _as_payload(value, self._types[0])
        return PendingResponse(self._raw.send_copy(payload), self._types)

    def loan_slice(self, length):
        """A request of `length` zeroed elements in shared memory (a slice service). Raises
        ExceedsMaxSliceLen for more than the client's initial_max_slice_len, ExceedsMaxLoans."""
        return RequestMut(self._raw.loan_slice(_slice_length(length)), self._types)

    def loan_slice_uninit(self, length):
        """loan_slice() without the zero fill: write every element."""
        return RequestMut(self._raw.loan_slice_uninit(_slice_length(length)), self._types)

    async def loan_slice_async(self, length):
        """loan_slice() that waits, in the running asyncio loop, while every request is loaned;
        ExceedsMaxSliceLen at once, never a wait. Cancelled, it takes nothing."""
        raw = await _complete(_floe.client_loan_slice_operation(self._raw, _slice_length(length)))
        return RequestMut(raw, self._types)

    def id(self):
        """This client's id: the RequestHeader.client_id of its requests."""
        return self._raw.id()

    def number_of_servers(self):
        """The servers of the service now."""
        return self._raw.number_of_servers()

    def max_active_requests(self):
        """The requests this client may have open at once."""
        return self._raw.max_active_requests()

    async def loan_async(self):
        """loan() that waits, in the running asyncio loop, while every request is loaned.
        Cancelled, it takes nothing."""
        raw = await _complete(_floe.client_loan_operation(self._raw))
        return RequestMut(raw, self._types)

    async def wait_for_server_async(self, timeout=None):
        """True once the service has a server (at once if it has one now), False when
        `timeout` seconds passed first (None: no limit). Woken by the server's creation through
        the loop's selector, not by polling."""
        if self._raw.number_of_servers() != 0:
            return True
        wait = _wait(_floe.client_server_wait_operation(self._raw), _GiveBack())
        try:
            return await asyncio.wait_for(wait, timeout)
        except asyncio.TimeoutError:
            return self._raw.number_of_servers() != 0


# Server side -------------------------------------------------------------------------------

class ResponseMut(_Message):
    """A response loaned in shared memory: write its payload in place, then send()."""

    __slots__ = ()

    def payload(self):
        """The response payload, written in place in shared memory; of a slice service, an
        array of the elements loaned."""
        return _view(self._raw, self._types[1], writable=True)

    def copy_payload(self):
        """The payload's bytes as written so far, copied out of shared memory."""
        return _copy_payload(self._raw)

    def send(self, timeout=SEND_TIMEOUT_SECONDS):
        """Delivers the response; False when the client stopped listening (or, under
        Backpressure.DISCARD, had no room). Under Backpressure.BLOCK it waits for room with the
        GIL released, at most `timeout` seconds, then raises TimedOut (the response not sent)."""
        return _floe.response_send_bounded(self._raw, timeout)

    async def send_async(self):
        """send() that, under Backpressure.BLOCK, waits for room in the running asyncio loop,
        suspending only this task (woken when the client takes a response). Cancelled before it
        sent, it sends nothing and gives the response back."""
        return await _complete(_floe.response_send_operation(self._raw))

    def user_header(self):
        """The response user header, written in place (zeroed by every loan)."""
        return _user_header_view(self._raw, self._types, _RESPONSE, writable=True)


class ActiveRequest(_Message):
    """A request as a server holds it open; releasing it ends the client's stream."""

    __slots__ = ()

    def payload(self):
        """The request payload (read-only); of a slice service, an array of as many elements as
        the client sent."""
        return _view(self._raw, self._types[0], writable=False)

    def copy_payload(self):
        """The request's payload bytes, copied out of shared memory."""
        return _copy_payload(self._raw)

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

    def loan_slice(self, length):
        """A response of `length` zeroed elements in shared memory (a slice service). Raises
        ExceedsMaxSliceLen for more than the server's initial_max_slice_len, ExceedsMaxLoans."""
        return ResponseMut(self._raw.loan_slice(_slice_length(length)), self._types)

    def loan_slice_uninit(self, length):
        """loan_slice() without the zero fill: write every element."""
        return ResponseMut(self._raw.loan_slice_uninit(_slice_length(length)), self._types)

    async def loan_async(self):
        """loan() that waits, in the running asyncio loop, while this request has
        max_loaned_responses_per_request responses loaned (woken when one is sent or released).
        Cancelled, or the request released meanwhile (floe.Cancelled), it takes nothing."""
        raw = await _complete(_floe.response_loan_operation(self._raw))
        return ResponseMut(raw, self._types)

    async def loan_slice_async(self, length):
        """loan_slice() that waits as loan_async() does; ExceedsMaxSliceLen at once, never a
        wait."""
        raw = await _complete(_floe.response_loan_slice_operation(self._raw, _slice_length(length)))
        return ResponseMut(raw, self._types)

    def send_copy(self, value, timeout=SEND_TIMEOUT_SECONDS):
        """Copies `value` into shared memory and sends it as ResponseMut.send(timeout) does;
        False when the client stopped listening. Of a slice service, `value` is a buffer or a
        list of elements, as Client.send_copy takes."""
        payload = _as_payload(value, self._types[1])
        return _floe.response_send_copy_bounded(self._raw, payload, timeout)

    async def send_copy_async(self, value):
        """send_copy() awaited as ResponseMut.send_async(): copies now, then waits for room
        under Backpressure.BLOCK."""
        raw = _floe.response_loan_copy(self._raw, _as_payload(value, self._types[1]))
        return await _complete(_floe.response_send_operation(raw))

    def user_header(self):
        """The request user header (read-only)."""
        return _user_header_view(self._raw, self._types, _REQUEST, writable=False)


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

    __class_getitem__ = classmethod(types.GenericAlias)

    def __init__(self, service, make_raw, port_type, role):
        self._types = service._types
        self._make_raw = make_raw
        self._port_type = port_type
        self._role = role
        self._limit = None
        self._max_slice_len = None
        self._allocation_strategy = AllocationStrategy.FIXED
        self._backpressure = Backpressure.DISCARD

    def _set_limit(self, value):
        self._limit = value
        return self

    def create(self):
        """A port of its own in the service. Raises ExceedsMaxClients / ExceedsMaxServers,
        IncompatibleLimits for a limit above the service's."""
        block = self._backpressure is Backpressure.BLOCK
        return self._port_type(self._make_raw(self._limit, block, self._max_slice_len,
                                              self._allocation_strategy.value),
                               self._types)

    def initial_max_slice_len(self, length):
        """The most elements this port loans in one slice (the client's requests, the server's
        responses), 1 to the service's max (the default); a larger loan raises
        ExceedsMaxSliceLen. TypeError where that side's payload is not a floe.Slice(T)."""
        _require_slice(self._types, self._role, "initial_max_slice_len")
        self._max_slice_len = int(length)
        return self

    def allocation_strategy(self, strategy):
        """What a loan of more elements than this port may loan now does:
        AllocationStrategy.FIXED (the default) raises ExceedsMaxSliceLen, POWER_OF_TWO and
        BEST_FIT grow the port. TypeError where that side's payload is not a floe.Slice(T)."""
        _require_slice(self._types, self._role, "allocation_strategy")
        if not isinstance(strategy, AllocationStrategy):
            raise TypeError(
                f"floe: allocation_strategy takes a floe.AllocationStrategy, not {strategy!r}")
        self._allocation_strategy = strategy
        return self

    def backpressure(self, value):
        """What the port does with nowhere to put a message: Backpressure.DISCARD (the default)
        or Backpressure.BLOCK."""
        if not isinstance(value, Backpressure):
            raise TypeError(f"floe: backpressure takes a floe.Backpressure, not {value!r}")
        self._backpressure = value
        return self


class ClientBuilder(_PortBuilder):
    """Service.client_builder(): a client's own limits, then create()."""

    def __init__(self, service):
        super().__init__(service, service._raw.create_client, Client, _REQUEST)

    def max_active_requests(self, value):
        """At most the service's max_active_requests_per_client."""
        return self._set_limit(value)


class ServerBuilder(_PortBuilder):
    """Service.server_builder(): a server's own limits, then create()."""

    def __init__(self, service):
        super().__init__(service, service._raw.create_server, Server, _RESPONSE)

    def max_loaned_responses_per_request(self, value):
        """At most the service's max_loaned_responses_per_request."""
        return self._set_limit(value)


class Service:
    """A request-response service, opened or created by RequestResponseBuilder."""

    __class_getitem__ = classmethod(types.GenericAlias)

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

    def attributes(self):
        """The attributes the service was created with (an AttributeSet)."""
        return AttributeSet(self._raw.attributes())

    def usage(self):
        """What the service's shared memory holds right now (a ServiceUsage)."""
        return ServiceUsage(**self._raw.usage())


class RequestResponseBuilder:
    """Names the payload types and limits of a service, then create(), open() or
    open_or_create(); every limit of the C++ builder is a method of the same name."""

    __class_getitem__ = classmethod(types.GenericAlias)

    def __init__(self, node, name, request_type, response_type):
        self._node = node
        self._name = name
        self._types = (request_type, response_type, None, None)
        self._type_infos = (_type_info(request_type), _type_info(response_type))
        self._limits = {}
        self._alignments = [None, None]
        self._user_header_infos = [None, None]
        self._attributes = None
        self._required_attributes = None
        self._max_slice_lens = [None, None]

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

    def request_max_slice_len(self, length):
        """The most elements a request slice may hold: the size of every request chunk, so
        needed to create a service whose request payload is a floe.Slice(T); opening with a
        larger one than the service's raises IncompatibleLimits. TypeError for a fixed-size
        request payload."""
        return self._set_max_slice_len(_REQUEST, length)

    def response_max_slice_len(self, length):
        """The most elements a response slice may hold, as request_max_slice_len."""
        return self._set_max_slice_len(_RESPONSE, length)

    def _set_max_slice_len(self, role, length):
        _require_slice(self._types, role, f"{_ROLE_NAMES[role]}_max_slice_len")
        self._max_slice_lens[role] = int(length)
        return self

    def _build(self, mode):
        raw = _floe.open_service(self._node, self._name, *self._type_infos, self._limits,
                                 *self._alignments, mode, *self._user_header_infos,
                                 self._attributes, self._required_attributes,
                                 *(isinstance(kind, Slice) for kind in self._types[:2]),
                                 *self._max_slice_lens)
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

    def request_user_header(self, header_type):
        """Every request carries a `header_type` next to its payload (RequestMut.user_header());
        a ctypes type, checked and named as payload types are."""
        return self._set_user_header(_REQUEST, header_type)

    def response_user_header(self, header_type):
        """Every response carries a `header_type` next to its payload
        (ResponseMut.user_header()); a ctypes type, checked and named as payload types are."""
        return self._set_user_header(_RESPONSE, header_type)

    def _set_user_header(self, role, header_type):
        self._user_header_infos[role] = _type_info(header_type)
        types = list(self._types)
        types[2 + role] = header_type
        self._types = tuple(types)
        return self

    def attributes(self, defined):
        """The attributes (an AttributeSpecifier) a service created by this builder holds;
        opening ignores them."""
        self._attributes = defined._raw
        return self

    def required_attributes(self, required):
        """What (an AttributeVerifier) the service's attributes must hold for open() to succeed
        (IncompatibleAttributes otherwise); create() and open_or_create() also refuse to create
        a service whose attributes would not meet it."""
        self._required_attributes = required._raw
        return self


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
        """A request-response service with these ctypes payload types, either of them a
        floe.Slice(T); TypeError for a type floe cannot carry."""
        return RequestResponseBuilder(self._node, self._name, request_type, response_type)


class Node:
    """One participant (usually one per process) that opens services."""

    def __init__(self, raw):
        self._raw = raw

    @staticmethod
    def create(name, config=None):
        """A node with `config` (a Config: its domain and the limits of the services it
        creates), else with the configuration of the environment (Config.from_environment():
        FLOE_DOMAIN, FLOE_CONFIG or /etc/floe/floe.toml)."""
        if config is None:
            return Node(_floe.Node.create(name))
        return Node(_floe.create_node(name, config._fields()))

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

    @property
    def config(self):
        """The configuration its services use (a Config)."""
        return Config._from_fields(_floe.node_config(self._raw))

    def list_services(self):
        """Every service of the node's domain (a list of ServiceInfo, sorted by object name),
        read without joining any: stale, damaged and unreadable ones are listed with their
        state."""
        return [ServiceInfo._from_fields(fields) for fields in _floe.list_services(self._raw)]

    def clean_up_dead_nodes(self):
        """Reclaims now what dead processes left in every service of the domain (their node
        records and ports; the services no live process holds are removed): a
        DeadNodeCleanup."""
        return DeadNodeCleanup(*_floe.clean_up_dead_nodes(self._raw))


# User headers ------------------------------------------------------------------------------

_REQUEST, _RESPONSE = 0, 1
_ROLE_NAMES = ("request", "response")


def _require_slice(types, role, setter):
    """TypeError unless the payload of `role` (_REQUEST, _RESPONSE) is a slice, for `setter`."""
    if not isinstance(types[role], Slice):
        raise TypeError(f"floe: {setter} is for a service whose {_ROLE_NAMES[role]} payload is "
                        f"a floe.Slice(T), not {types[role].__name__}")


def _user_header_view(message, types, role, writable):
    """The user header of `message` (a raw message of the role's side) behind a view."""
    header_type = types[2 + role]
    if header_type is None:
        name = _ROLE_NAMES[role]
        raise TypeError(f"floe: this service's {name}s carry no user header; declare one with "
                        f"{name}_user_header(T) on its RequestResponseBuilder")
    return PayloadView(message, header_type.from_buffer(message.user_header()), writable)


# Service attributes ------------------------------------------------------------------------

Attribute = collections.namedtuple("Attribute", ["key", "value"])
Attribute.__doc__ = "One key/value pair of a service's attributes."


class AttributeSet:
    """A service's attributes, ordered by key and then value; a key may have several values."""

    __slots__ = ("_items",)

    def __init__(self, pairs=()):
        self._items = tuple(sorted(Attribute(key, value) for key, value in pairs))

    def items(self):
        """The attributes (Attribute(key, value)), ordered by key and then value."""
        return list(self._items)

    def values(self, key):
        """The values of `key`, in order; empty when the key is not defined."""
        return [item.value for item in self._items if item.key == key]

    def value(self, key):
        """The first value of `key`, or None when it is not defined."""
        return next((item.value for item in self._items if item.key == key), None)

    def contains(self, key, value=None):
        """Whether `key` has a value (`value`, when given)."""
        return any(item.key == key and value in (None, item.value) for item in self._items)

    def __iter__(self):
        return iter(self._items)

    def __len__(self):
        return len(self._items)

    def __eq__(self, other):
        return isinstance(other, AttributeSet) and self._items == other._items

    def __hash__(self):
        return hash(self._items)

    def __repr__(self):
        shown = ", ".join(f"{item.key!r}: {item.value!r}" for item in self._items)
        return f"floe.AttributeSet({{{shown}}})"


class AttributeSpecifier:
    """The attributes a service is created with (RequestResponseBuilder.attributes()):
    floe.AttributeSpecifier().define("camera", "front").define("resolution", "1920x1080")."""

    def __init__(self):
        self._raw = _floe.AttributeSpecifier()

    def define(self, key, value):
        """Adds `key` = `value` (a key may be defined with several values). Raises
        InvalidAttributes for an empty or too long key or value, or a full set."""
        self._raw.define(key, value)
        return self

    def attributes(self):
        """What was defined (an AttributeSet)."""
        return AttributeSet(self._raw.attributes())


class AttributeVerifier:
    """What an opener requires of a service's attributes (RequestResponseBuilder.
    required_attributes()): floe.AttributeVerifier().require("resolution", "1920x1080")
    .require_key("camera")."""

    def __init__(self):
        self._raw = _floe.AttributeVerifier()

    def require(self, key, value):
        """Requires that `key` has the value `value` (among others). Raises InvalidAttributes
        as AttributeSpecifier.define does."""
        self._raw.require(key, value)
        return self

    def require_key(self, key):
        """Requires that `key` has a value, whichever. Raises InvalidAttributes."""
        self._raw.require_key(key)
        return self

    def required_attributes(self):
        """The key/value pairs required (an AttributeSet)."""
        return AttributeSet(self._raw.required_attributes())

    def required_keys(self):
        """The keys required with any value."""
        return list(self._raw.required_keys())

    def unmet_requirement(self, attributes):
        """The first requirement `attributes` (an AttributeSet) does not meet, said as C++
        says it; None when all are met."""
        return self._raw.unmet_requirement([tuple(item) for item in attributes])


# Introspection -----------------------------------------------------------------------------

class ServiceState(enum.Enum):
    """What a service's object in /dev/shm is, as Node.list_services() judges it."""

    LIVE = "live"                  # a live process holds it open: open() joins it
    STALE = "stale"                # nobody alive holds it: open() removes it
    DAMAGED = "damaged"            # written over or shrunk: open() and create() replace it
    INACCESSIBLE = "inaccessible"  # another user's, another floe version's, or not floe's


@dataclasses.dataclass(frozen=True)
class ServiceUsage:
    """Counts read from a service's shared memory at one moment (Service.usage())."""

    request_chunks: int
    request_chunks_in_use: int
    response_chunks: int
    response_chunks_in_use: int
    nodes: int
    clients: int
    servers: int
    segment_size: int
    data_segments: int       # data segments of its ports that grew (AllocationStrategy)
    data_segment_bytes: int  # their bytes together


@dataclasses.dataclass(frozen=True)
class NodeInfo:
    """One node holding a service open (ServiceInfo.nodes). `name` may hold any bytes: those
    that are not UTF-8 are surrogates (name.encode("utf-8", "surrogateescape") restores
    them)."""

    name: str
    pid: int
    alive: bool
    clients: int
    servers: int


@dataclasses.dataclass(frozen=True)
class ServiceInfo:
    """One service of a node's domain (Node.list_services()). Types, limits and counts are
    filled in only when `state` is LIVE or STALE; a user header type is "" when there is
    none; a slice payload's type reads floe::Slice<T>, its max length is in
    request_max_slice_len / response_max_slice_len (0: a fixed payload); `limits` is by name,
    as Service.limits()."""

    name: str
    object: str
    state: ServiceState
    problem: str
    owner: str
    request_type: str
    response_type: str
    request_user_header_type: str
    response_user_header_type: str
    request_max_slice_len: int
    response_max_slice_len: int
    limits: dict
    live_nodes: int
    dead_nodes: int
    nodes: list
    usage: ServiceUsage

    @classmethod
    def _from_fields(cls, fields):
        fields = dict(fields)
        fields["state"] = ServiceState(fields["state"])
        fields["nodes"] = [NodeInfo(**node) for node in fields["nodes"]]
        fields["usage"] = ServiceUsage(**fields["usage"])
        return cls(**fields)


@dataclasses.dataclass(frozen=True)
class DeadNodeCleanup:
    """What Node.clean_up_dead_nodes() reclaimed across the node's domain."""

    nodes: int             # node records of processes that are gone
    ports: int             # their clients and servers: the slots are free again
    removed_services: int  # services no live process held any more, removed
    # data segments removed: of the dead ports, and those left of services that no longer exist
    removed_data_segments: int = 0


# Configuration -----------------------------------------------------------------------------

def _default_limits():
    return dict(_floe.default_config()[2])


@dataclasses.dataclass
class Config:
    """Where services live and the limits a service gets when its builder sets none, as C++'s
    floe::Config: Node.create(name, config=...)."""

    domain: str = "default"
    group_access: bool = False
    # Limits by name (RequestResponseBuilder's method names); one not named keeps its default.
    request_response: dict = dataclasses.field(default_factory=_default_limits)

    @staticmethod
    def from_environment():
        """FLOE_DOMAIN and the file named by FLOE_CONFIG, else /etc/floe/floe.toml when
        present, else the defaults. Raises InvalidConfig for a file it cannot use."""
        return Config._from_fields(_floe.config_from_environment())

    @staticmethod
    def from_file(path):
        """Reads a TOML file as C++ does (docs: floe/config.hpp). Raises InvalidConfig, saying
        file:line:column where it can."""
        return Config._from_fields(_floe.config_from_file(str(path)))

    @staticmethod
    def _from_fields(fields):
        domain, group_access, limits = fields
        return Config(domain, group_access, dict(limits))

    def _fields(self):
        return (self.domain, bool(self.group_access), dict(self.request_response))

# One call ----------------------------------------------------------------------------------

async def _before(deadline, awaitable, timed_out):
    """`awaitable`'s result, or TimedOut(timed_out) once the loop's clock passed `deadline`."""
    remaining = max(0.0, deadline - asyncio.get_running_loop().time())
    try:
        return await asyncio.wait_for(awaitable, remaining)
    except asyncio.TimeoutError:
        raise TimedOut(timed_out) from None


async def call_async(client, request, timeout):
    """One request, its first response, within `timeout` seconds, as C++'s floe::call: waits
    for a server, sends a copy of `request`, returns the first Response (later ones of the
    stream are discarded). Raises NoServer (no server came, or the request reached none),
    TimedOut (a server got it, no response came in time), NoResponse (the stream ended
    unanswered: the server dropped the request, or died); ExceedsMaxLoans at once."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    payload = _as_payload(request, client._types[0])
    with RequestMut(client._raw.loan_copy(payload), client._types) as loaned:
        if not await client.wait_for_server_async(max(0.0, deadline - loop.time())):
            raise NoServer("floe: no server of the service came before the call's deadline; "
                           "start one, or give the call a longer timeout")
        pending = await _before(deadline, loaned.send_async(),
                                "floe: the client had max_active_requests requests open until "
                                "the call's deadline")
    with pending:
        if pending.end_reason() == StreamEnd.NO_SERVER:
            raise NoServer("floe: the request reached no server (the server went away, or its "
                           "request buffer was full)")
        response = await _before(deadline, pending.receive_async(),
                                 "floe: a server got the request but sent no response before "
                                 "the call's deadline")
        if response is None:
            if pending.end_reason() == StreamEnd.SERVER_GONE:
                raise NoResponse("floe: the server went away (its process died, or it dropped "
                                 "its Server) before it answered the request")
            raise NoResponse("floe: the server dropped the request without answering it")
        return response
