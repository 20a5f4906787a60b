"""The split judge: tests and candidate in two processes, only plain data between them.

A candidate that shares a process with its tests can forge any verdict (write the result
channel, patch `assert`'s callers, return an object whose `__eq__` is always true). So the
function harness runs the candidate in one process (C) and the trusted tests in another
(J); J's names for the candidate's functions are proxies that send arguments over a socket
and get back plain data: None, bool, int, float, complex, str, bytes, and lists, tuples,
dicts, sets of those. Anything else comes back as an opaque handle with no comparison
methods, so an always-equal object cannot reach an assertion. J decodes with this module,
never with pickle, and C cannot read J's memory (J is not dumpable).

Stdlib only: the worker imports it under whatever interpreter runs the tests.
"""

from __future__ import annotations

import builtins
import json
import socket
import struct
import sys
import time
from typing import Any

MAX_MESSAGE = 64 << 20  # one answer of the candidate, encoded
_HEADER = struct.Struct("!I")
_SCALARS = (type(None), bool, int, float, str)
_SCALAR_TYPES = frozenset(_SCALARS)
_BIG = 1 << 63  # larger ints travel in hex: decimal conversion is quadratic in the digits
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)  # a right answer may be a huge int (special_factorial)


class CandidateGone(BaseException):
    """The candidate's process closed the connection (it exited, crashed or was killed).
    A BaseException, so a test's `except Exception` cannot swallow it and go on."""


class CandidateError(Exception):
    """The candidate raised an exception that is not a builtin one (its type name is kept)."""


class NotPlainData(TypeError):
    """A test tried to pass a value the candidate's process cannot receive."""


# -- framing -----------------------------------------------------------------------------


def send(sock: socket.socket, message: object) -> None:
    data = json.dumps(message, separators=(",", ":")).encode()
    sock.sendall(_HEADER.pack(len(data)) + data)


def receive(sock: socket.socket) -> object:
    (size,) = _HEADER.unpack(_exactly(sock, _HEADER.size))
    if size > MAX_MESSAGE:
        raise CandidateGone(f"the candidate sent {size} bytes, more than {MAX_MESSAGE}")
    return json.loads(_exactly(sock, size))


def _exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            raise CandidateGone("the candidate's process ended")
        chunks.extend(chunk)
    return bytes(chunks)


# -- plain data codec --------------------------------------------------------------------
# Scalars are JSON scalars; everything else is a two-item list [tag, payload], so a JSON
# list never stands for itself and decoding is unambiguous.


def encode(value: object, handle=None) -> object:
    """Plain data as JSON; other values through `handle(value)` (or NotPlainData)."""
    if type(value) is int and not -_BIG < value < _BIG:
        return ["i", hex(value)]
    if value is None or type(value) in _SCALARS:
        return value
    for base in (bool, int, float, str):
        if isinstance(value, base):  # a subclass (an enum member, a str with a custom __eq__)
            return encode(base(value))  # travels as its plain base value
    if isinstance(value, complex):
        return ["c", [value.real, value.imag]]
    if isinstance(value, (bytes, bytearray)):
        return ["b" if isinstance(value, bytes) else "y", bytes(value).hex()]
    if isinstance(value, (list, tuple)):
        tag = "t" if isinstance(value, tuple) else "l"
        if _SCALAR_TYPES.issuperset(map(type, value)) and not any(
            type(v) is int and not -_BIG < v < _BIG for v in value
        ):  # flat: common, large
            return [tag, list(value)]
        return [tag, [encode(v, handle) for v in value]]
    if isinstance(value, dict):
        return ["d", [[encode(k, handle), encode(v, handle)] for k, v in value.items()]]
    if isinstance(value, (set, frozenset)):
        return ["s" if isinstance(value, set) else "f", [encode(v, handle) for v in value]]
    if handle is not None:
        return handle(value)
    raise NotPlainData(
        f"cannot pass a {type(value).__name__} to the candidate "
        "(only plain data crosses the sandbox boundary)"
    )


def decode(data: object, remote=None) -> object:
    """The inverse of encode; handles become `remote(id, description)`."""
    if not isinstance(data, list):
        return data  # a JSON scalar; json.loads made it a plain bool/int/float/str/None
    tag, payload = data[0], data[1]
    if tag == "l":
        return [v if type(v) in _SCALAR_TYPES else decode(v, remote) for v in payload]
    if tag == "t":
        return tuple(v if type(v) in _SCALAR_TYPES else decode(v, remote) for v in payload)
    if tag == "d":
        return {decode(k, remote): decode(v, remote) for k, v in payload}
    if tag == "s":
        return {decode(v, remote) for v in payload}
    if tag == "f":
        return frozenset(decode(v, remote) for v in payload)
    if tag == "i":
        return int(payload, 16)
    if tag == "c":
        return complex(float(payload[0]), float(payload[1]))
    if tag in ("b", "y"):
        raw = bytes.fromhex(payload)
        return raw if tag == "b" else bytearray(raw)
    if tag == "r" and remote is not None:
        return remote(int(payload), str(data[2])[:200] if len(data) > 2 else "")
    raise ValueError(f"malformed value from the candidate (tag {tag!r})")


# -- C: the candidate's side -------------------------------------------------------------


def serve(sock: socket.socket, solution: str, filename: str) -> None:
    """Run the solution, announce its callables, then answer calls until J hangs up."""
    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(compile(solution, filename, "exec"), namespace)  # noqa: S102 - the candidate
    except BaseException as e:  # noqa: BLE001 - reported to J, which decides the verdict
        send(sock, {"load_error": _exception(e)})
        return
    names = sorted(k for k, v in namespace.items() if not k.startswith("__") and callable(v))
    send(sock, {"names": names})
    handles: dict[int, object] = {}

    def handle(value: object) -> list:
        handles[id(value)] = value
        return ["r", id(value), f"<{type(value).__name__} from the candidate>"]

    while True:
        try:
            request = receive(sock)
        except CandidateGone:
            return  # J is done
        assert isinstance(request, dict)
        spent = 0.0
        try:
            ref = request["target"]
            target: Any = namespace[ref] if isinstance(ref, str) else handles[ref[1]]
            if request["op"] == "getattr":
                result = getattr(target, request["name"])
            else:
                args: Any = decode(request["args"], lambda i, _: handles[i])
                kwargs: Any = decode(request["kwargs"], lambda i, _: handles[i])
                started = time.perf_counter()
                result = target(*args, **kwargs)
                spent = time.perf_counter() - started
            reply = {"ok": encode(result, handle), "s": spent}
        except BaseException as e:  # noqa: BLE001 - the candidate's exception, for J to raise
            reply = {"raise": _exception(e)}
        try:
            send(sock, reply)
        except (ValueError, TypeError, RecursionError, MemoryError) as e:
            send(sock, {"raise": _exception(e)})  # a value too deep or too big to send


def _exception(error: BaseException) -> list:
    if isinstance(error, SyntaxError):
        return ["SyntaxError", f"{error.msg} (line {error.lineno})", None]
    if isinstance(error, SystemExit):
        return ["SystemExit", repr(error.code), None]
    errno = error.errno if isinstance(error, OSError) else None
    message = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return [type(error).__name__, message[:500], errno]


# -- J: the judge's side -----------------------------------------------------------------


class _Link:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        # compute time of the last call as the candidate measured it, without the transfer:
        # for per-input speed limits only (a wall-clock bound still holds if it lies)
        self.last_s = 0.0

    def ask(self, request: dict) -> object:
        send(self.sock, request)
        reply = receive(self.sock)
        if not isinstance(reply, dict):
            raise CandidateGone("the candidate's process sent a malformed reply")
        spent = reply.get("s", 0.0)
        self.last_s = float(spent) if isinstance(spent, (int, float)) else 0.0
        if "raise" in reply:
            raise _rebuild(reply["raise"])
        return decode(reply.get("ok"), lambda i, text: Remote(self, i, text))


class Remote:
    """A non-data value that stays in the candidate's process. Only calls and attribute
    reads go through; it has no comparison, hashing or truth of its own to forge."""

    __slots__ = ("_link", "_id", "_text")

    def __init__(self, link: _Link, ident: int, text: str) -> None:
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_id", ident)
        object.__setattr__(self, "_text", text)

    _link: _Link

    def __getattr__(self, name: str) -> object:
        return self._link.ask({"op": "getattr", "target": ["r", self._id], "name": name})

    def __call__(self, *args: object, **kwargs: object) -> object:
        return self._link.ask(
            {
                "op": "call",
                "target": ["r", self._id],
                "args": encode(list(args), _ref),
                "kwargs": encode(kwargs, _ref),
            }
        )

    def __repr__(self) -> str:
        return str(self._text)


def _ref(value: object) -> list:
    if isinstance(value, Remote):
        return ["r", object.__getattribute__(value, "_id")]
    raise NotPlainData(
        f"cannot pass a {type(value).__name__} to the candidate "
        "(only plain data crosses the sandbox boundary)"
    )


def proxies(sock: socket.socket) -> tuple[dict, list | None]:
    """J's view of the candidate: name -> proxy, or the error that stopped it loading."""
    hello = receive(sock)
    if not isinstance(hello, dict):
        raise CandidateGone("the candidate's process sent a malformed greeting")
    if "load_error" in hello:
        return {}, hello["load_error"]
    link = _Link(sock)

    def proxy(name: str):
        def call(*args: object, **kwargs: object) -> object:
            return link.ask(
                {
                    "op": "call",
                    "target": name,
                    "args": encode(list(args), _ref),
                    "kwargs": encode(kwargs, _ref),
                }
            )

        call.__name__ = call.__qualname__ = name
        call.link = link  # type: ignore[attr-defined]
        return call

    return {str(n): proxy(str(n)) for n in hello.get("names", [])}, None


def _rebuild(info: list) -> BaseException:
    """The candidate's exception as J raises it: builtin types keep their type."""
    name, message, errno = (list(info) + [None, None, None])[:3]
    kind = getattr(builtins, str(name), None)
    if (
        isinstance(kind, type)
        and issubclass(kind, BaseException)
        and kind not in (SystemExit, KeyboardInterrupt, GeneratorExit)
    ):
        if issubclass(kind, OSError) and errno is not None:
            return kind(int(errno), str(message))
        try:
            return kind(str(message)) if message else kind()
        except Exception:  # noqa: BLE001 - an exception type with another signature
            pass
    if name == "SystemExit":
        return CandidateError(f"the program called exit({message})")
    return CandidateError(f"{name}: {message}")
