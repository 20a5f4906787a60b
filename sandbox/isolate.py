"""Repository candidates isolated from the tests: pytest in one process, the candidate in another.

A candidate that shares pytest's process can forge its report (patch `_pytest`, rewrite
the recorder, write the result channel). To confirm a pass, the repository runner runs the
tests (J) with the target function replaced by a forwarding stub, and the candidate's
module in a second process (C) that serves the calls. Arguments go to C by pickle (J's
data, trusted); C's answers come back through a restricted unpickler that builds only
types, never calls functions, imports nothing new and refuses metaclasses, so an answer is
data whose behaviour is the repository's or the standard library's own code. After each
call the arguments' state comes back too, so a method that mutates `self` or a list it
was given behaves as it would in-process (top-level identity is kept, nested containers
are refreshed in place where their types match). Functions and iterators do not travel:
each side gets a handle whose calls and `next()` go back to the owner over the same socket
(a test's lambda runs in J when the candidate calls it; a generator or a function the
candidate returns runs in C when the test uses it), requests nesting as deep as needed.

What cannot cross (an open file, a module, a non-callable type from a third-party
package) ends the run with an error that says so: the pass is then "not confirmed", never
forged. Monkeypatches a test applies in J are not seen by C either; such tests cannot
confirm a pass.

Stdlib only: the worker imports it under the repository's interpreter.
"""

from __future__ import annotations

import copyreg
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import io
import os
import pickle
import socket
import struct
import sys
import types
from functools import partial
from typing import Any, NoReturn

MAX_MESSAGE = 64 << 20
_HEADER = struct.Struct("!Q")
_ATOMS = (int, float, complex, str, bytes, type(None))
# Types whose construction from an answer runs only trusted code and yields data.
_SAFE_BUILTINS = {
    "complex",
    "set",
    "frozenset",
    "bytearray",
    "range",
    "slice",
    "list",
    "dict",
    "tuple",
    "str",
    "bytes",
    "int",
    "float",
    "bool",
    "object",
    "NoneType",
}
_SAFE_STDLIB = {
    "datetime",
    "decimal",
    "fractions",
    "collections",
    "uuid",
    "pathlib",
    "ipaddress",
    "enum",
    "zoneinfo",
    "_decimal",
    "_pydecimal",
    "_datetime",
    "_pydatetime",
    "posixpath",
    "array",
    "_collections",
    "email.message",
}
# Single data types from modules whose other types are not all data.
_SAFE_TYPES = {("argparse", "Namespace"), ("re", "RegexFlag")}


class IsolationError(BaseException):
    """A call could not be forwarded or answered; BaseException so `except Exception` in a
    test cannot swallow it (the run is then reported as not confirmed regardless)."""


# -- framing -----------------------------------------------------------------------------


def _send(sock: socket.socket, data: bytes) -> None:
    sock.sendall(_HEADER.pack(len(data)) + data)


def _receive(sock: socket.socket) -> bytes | None:
    head = _exactly(sock, _HEADER.size)
    if head is None:
        return None
    (size,) = _HEADER.unpack(head)
    if size > MAX_MESSAGE:
        raise IsolationError(f"the candidate sent {size} bytes, more than {MAX_MESSAGE}")
    return _exactly(sock, size)


def _exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            return None
        chunks.extend(chunk)
    return bytes(chunks)


# -- C: the candidate's side -------------------------------------------------------------


def module_name(root: str, rel: str) -> tuple[str, str]:
    """The dotted name a file is imported as, and the folder that must be on sys.path:
    walk up while the folder is a package (as pytest's default import mode does)."""
    path = os.path.join(root, rel)
    folder, stem = os.path.split(path)
    parts = [] if stem == "__init__.py" else [stem[:-3]]
    while os.path.exists(os.path.join(folder, "__init__.py")):
        folder, package = os.path.split(folder)
        parts.insert(0, package)
    return ".".join(parts), folder


class _SourceLoader(importlib.machinery.SourceFileLoader):
    def __init__(self, fullname: str, path: str, source: str) -> None:
        super().__init__(fullname, path)
        self.source = source

    def get_code(self, fullname):
        return compile(self.source, self.path, "exec", dont_inherit=True)

    def get_source(self, fullname):
        return self.source


class _OneFileFinder(importlib.abc.MetaPathFinder):
    """Serves one file's replacement source, whatever name it is imported under."""

    def __init__(self, path: str, source: str) -> None:
        self.path, self.source = os.path.realpath(path), source

    def find_spec(self, name, path, target=None):
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.origin and os.path.realpath(spec.origin) == self.path:
            return importlib.util.spec_from_file_location(
                name,
                self.path,
                loader=_SourceLoader(name, self.path, self.source),
                submodule_search_locations=spec.submodule_search_locations,
            )
        return None


def serve(sock: socket.socket, root: str, rel: str, source: str, qualname: str) -> dict:
    """C's life: at J's first call, import the candidate's module under the name and with
    the import path J imported it with (a namespace package, pytest's `pythonpath`, the
    folders pytest prepends), then answer requests until J hangs up."""
    sys.dont_write_bytecode = True
    os.chdir(root)
    end = _CandidateEnd(sock)
    setup = end.receive()
    if setup is None:  # the tests never called the function
        return {"outcome": "passed", "detail": ""}
    _, name, paths = setup
    if not name:
        name, base = module_name(root, rel)
        paths = [base, root]
    sys.path[:] = list(dict.fromkeys([*paths, *sys.path]))
    sys.meta_path.insert(0, _OneFileFinder(os.path.join(root, rel), source))
    try:
        end.target = _lookup(importlib.import_module(name), qualname)
    except BaseException as e:  # noqa: BLE001 - reported to J, which ends the run with it
        end.send(("load-error", f"{type(e).__name__}: {e}"[:500], None))
        return {"outcome": "error", "detail": "load error"}
    end.send(("ready", None, None))
    while (message := end.receive()) is not None:
        end.serve(message)
    return {"outcome": "passed", "detail": ""}


def _lookup(module: object, qualname: str):
    owner: object = module
    *path, last = qualname.split(".")
    for part in path:
        owner = vars(owner)[part]
    return vars(owner)[last]


_CALLABLES = (types.FunctionType, types.MethodType, partial)
# C may hand J its builtins too; J never hands C a builtin (`getattr`, `exec`, ...): those
# go by name and C calls its own copy, so C cannot make J run them on J's objects.
_CANDIDATE_CALLABLES = _CALLABLES + (types.BuiltinFunctionType, types.BuiltinMethodType)


def _travels_as_handle(obj: object, callables: tuple = _CALLABLES) -> str | None:
    """ "call" or "iter" for what crosses as a handle, None for what crosses as data."""
    if isinstance(obj, type):
        return None  # classes go by reference
    if isinstance(obj, callables):
        return "call"
    if isinstance(obj, io.IOBase):
        return None  # a file is more than its lines: it cannot cross
    if isinstance(obj, types.GeneratorType) or hasattr(type(obj), "__next__"):
        return "iter"
    return None


_NAMES = ("__name__", "__qualname__", "__module__", "__doc__")


def _describe(obj: object, signature: bool) -> dict:
    """What introspection reads from a function, sent with its handle (a test or a library
    that asks a callback's name or parameters gets the answer the in-process call would).
    Only strings, and the signature from J (trusted) alone."""
    meta: dict[str, object] = {
        key: value[:2000] for key in _NAMES if isinstance(value := getattr(obj, key, None), str)
    }
    if signature:
        try:
            found = inspect.signature(obj)  # type: ignore[arg-type]
            pickle.dumps(found)  # defaults that cannot cross leave the signature out, not the call
            meta["__signature__"] = found
        except Exception:  # noqa: BLE001, S110 - no signature: introspection sees none
            pass
    return meta


def _meta_ok(meta: object) -> bool:
    return isinstance(meta, dict) and all(
        key in _NAMES and type(value) is str and len(value) <= 2000 for key, value in meta.items()
    )


class _Pickler(pickle.Pickler):
    """Pickles what crosses. A class whose own `__reduce__` rebuilds its instances with a
    function (isodate's `UTC`, `re.Pattern`) would otherwise send that function as a handle, and the
    other side would call back for the object, which reduces to the same handle again
    without end. From J the function goes by name, like a class; from C (whose functions J
    never calls on unpickling) the instance goes as its class and state instead."""

    by_state = False

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.by_name: dict[int, object] = {}

    def reducer_override(self, obj):
        kind = type(obj)
        if isinstance(obj, (type, *_CALLABLES)):
            return NotImplemented
        if (registered := copyreg.dispatch_table.get(kind)) is not None:
            reduced = registered(obj)  # re.Pattern: rebuilt by re._compile
        elif kind.__reduce__ is object.__reduce__ and kind.__reduce_ex__ is object.__reduce_ex__:
            return NotImplemented
        else:
            reduced = obj.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
        if not (isinstance(reduced, tuple) and reduced and isinstance(reduced[0], types.FunctionType)):
            return reduced
        if self.by_state:
            getstate = getattr(obj, "__getstate__", None)
            state = getstate() if getstate else getattr(obj, "__dict__", None)
            return (copyreg.__newobj__, (kind,), state)  # type: ignore[attr-defined]
        self.by_name[id(reduced[0])] = reduced[0]
        return reduced


class _Remote:
    """A handle to an object the other process owns: calls and next() go there."""

    def __init__(self, end: _End, number: int) -> None:
        self._end, self._number = end, number

    def __repr__(self) -> str:
        return f"<remote object {self._number}>"


class _RemoteCallable(_Remote):
    def __call__(self, *args, **kwargs):
        return self._end.request(("invoke", self._number, args, kwargs))


class _RemoteIterator(_Remote):
    def __iter__(self):
        return self

    def __next__(self):
        return self._end.request(("next", self._number, (), {}))


class _End:
    """One side of the link: requests it sends wait for their reply while serving the
    other side's nested requests (a callback inside a call inside a callback...)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.owned: dict[int, Any] = {}  # handle number -> our object
        self.numbers: dict[int, int] = {}  # id(our object) -> handle number
        self.remotes: dict[int, _Remote] = {}  # their handle number -> our proxy
        self.target: Any = None

    # -- wire
    def send(self, message: tuple, originals: list | None = None) -> None:
        raise NotImplementedError

    def receive(self, originals: list | None = None) -> tuple | None:
        raise NotImplementedError

    def handle(self, obj: object, kind: str, signature: bool) -> tuple:
        number = self.numbers.get(id(obj))
        if number is None:
            number = len(self.owned)
            self.owned[number], self.numbers[id(obj)] = obj, number
        return ("mine", number, kind, _describe(obj, signature) if kind == "call" else {})

    def remote(self, number: int, kind: str, meta: dict) -> _Remote:
        if number not in self.remotes:
            cls = _RemoteCallable if kind == "call" else _RemoteIterator
            self.remotes[number] = proxy = cls(self, number)
            for key, value in meta.items():
                setattr(proxy, key, value)
        return self.remotes[number]

    # -- requests and replies
    REQUESTS = ("call", "invoke", "next")

    def request(self, message: tuple):
        self.send(message)
        originals = list(message[2]) + list(message[3].values())
        while True:
            reply = self.receive(originals)
            if reply is None:
                return self.gone()
            if reply[0] in self.REQUESTS:
                self.serve(reply)
                continue
            return self.answer(reply, originals)

    def serve(self, message: tuple) -> None:
        kind, number, args, kwargs = message
        originals = list(args) + list(kwargs.values())
        try:
            if kind == "call":
                value = self.target(*args, **kwargs)
            elif kind == "invoke":
                value = self.owned[number](*args, **kwargs)
            else:
                value = next(self.owned[number])
            reply = "return"
        except StopIteration:
            reply, value, originals = "stop", None, []
        except BaseException as e:  # noqa: BLE001 - re-raised on the other side
            if not self.passes_on(e):
                raise
            reply, value = "raise", e
        self.reply(reply, value, originals)

    def passes_on(self, error: BaseException) -> bool:
        """Whether an exception raised while serving goes to the other side."""
        return True

    def reply(self, kind: str, value: object, originals: list) -> None:
        raise NotImplementedError

    def answer(self, reply: tuple, originals: list):
        raise NotImplementedError

    def gone(self):
        raise IsolationError("the other process ended")


class _CandidateEnd(_End):
    """C's side: plain pickle in (J is trusted); answers carry the arguments' new state."""

    def send(self, message, originals=None):
        _send(self.sock, self._dumps(message, originals or []))

    def receive(self, originals=None):
        frame = _receive(self.sock)
        if frame is None:
            return None
        end = self

        class _Loader(pickle.Unpickler):
            def persistent_load(self, pid):
                side, number, kind, *meta = pid
                return end.owned[number] if side == "yours" else end.remote(number, kind, *meta)

        try:
            return _Loader(io.BytesIO(frame)).load()  # noqa: S301 - from J, the trusted side
        except Exception as e:  # noqa: BLE001 - e.g. a test's class C cannot import: say so
            self.send(
                (
                    "cannot",
                    f"the candidate's process could not read a value from the tests: {type(e).__name__}: {e}"[
                        :500
                    ],
                    None,
                )
            )
            os._exit(0)

    def _dumps(self, message: tuple, originals: list) -> bytes:
        # atoms need no identity (and an int argument must not capture the ints of the ids)
        by_id = {id(x): i for i, x in enumerate(originals) if not isinstance(x, _ATOMS)}
        buffer = io.BytesIO()
        end = self

        class _Dumper(_Pickler):
            by_state = True

            def persistent_id(self, obj):
                if (i := by_id.get(id(obj))) is not None:
                    return ("arg", i, "")
                if isinstance(obj, _Remote) and obj._end is end:
                    return ("yours", obj._number, "")
                if id(obj) in self.by_name:
                    return None
                kind = _travels_as_handle(obj, _CANDIDATE_CALLABLES)
                return None if kind is None else end.handle(obj, kind, signature=False)

        _Dumper(buffer).dump(message)
        return buffer.getvalue()

    def reply(self, kind, value, originals):
        states = [_state(x) for x in originals]
        for message in ((kind, value, states), (kind, value, None)):
            try:
                _send(self.sock, self._dumps(message, originals))
                return
            except BaseException as e:  # noqa: BLE001 - say what could not cross
                problem = e
        what = type(value).__name__
        if kind == "raise":
            self.send(("raise-text", f"{what}: {value}"[:500], None))
        else:
            self.send(
                (
                    "cannot",
                    f"the candidate's answer ({what}) cannot be sent back to the "
                    f"tests: {type(problem).__name__}: {problem}"[:500],
                    None,
                )
            )

    def answer(self, reply, originals):
        kind, value, _ = reply
        if kind == "stop":
            raise StopIteration
        if kind == "raise":
            raise value
        if kind in ("cannot", "raise-text"):
            raise RuntimeError(value)
        return value

    def gone(self):
        os._exit(0)  # J hung up mid-request: the run is over


def _state(x: object) -> tuple[str, object] | None:
    if isinstance(x, list):
        return ("list", list(x))
    if isinstance(x, dict):
        return ("dict", dict(x))
    if isinstance(x, set):
        return ("set", set(x))
    if isinstance(x, bytearray):
        return ("bytearray", bytes(x))
    if not isinstance(x, (type, _Remote)) and hasattr(x, "__dict__") and not callable(x):
        return ("attrs", dict(vars(x)))
    return None


# -- J: the tests' side ------------------------------------------------------------------


class Link(_End):
    """J's end: `forward` is what the stubbed function calls. The first trouble is kept so
    the run's report says "not confirmed" even if a test caught the exception."""

    def __init__(self, sock: socket.socket, root: str) -> None:
        super().__init__(sock)
        self.root = os.path.realpath(root)
        self.trouble: str | None = None
        self.broken = False
        self._ready = False

    def forwarder(self, module: str):
        """What a forwarding stub in `module` calls: C imports the module by this name."""
        return partial(self.forward, module=module)

    def forward(self, qualname: str, args: tuple, kwargs: dict, module: str = ""):
        if self.trouble is not None:
            raise IsolationError(self.trouble)
        if self.broken:
            raise IsolationError("an earlier call to the candidate was interrupted")
        if not self._ready:
            self.send(("setup", module, list(sys.path)))
            first = self.receive([])
            if first is None or first[0] != "ready":
                detail = first[1] if first is not None and first[0] == "load-error" else "no answer"
                self.fail(f"the candidate's module did not import: {detail}")
            self._ready = True
        return self.request(("call", 0, args, kwargs))

    def request(self, message):
        try:
            return super().request(message)
        except IsolationError:
            raise
        except BaseException as e:
            if isinstance(e, (StopIteration, Exception)) and not self.broken:
                raise  # the candidate's own exception (or an ended iterator), re-raised
            self.broken = True  # interrupted mid-request (a test's timeout): out of step now
            raise

    def send(self, message, originals=None):
        try:
            payload = self._dumps(message)
        except Exception as e:  # noqa: BLE001
            self.fail(f"a value cannot be sent to the isolated candidate: {type(e).__name__}: {e}"[:500])
        try:
            _send(self.sock, payload)
        except OSError:
            self.fail("the candidate's process ended")

    def _dumps(self, message: tuple) -> bytes:
        buffer = io.BytesIO()
        end = self

        class _Dumper(_Pickler):
            def persistent_id(self, obj):
                if isinstance(obj, _Remote) and obj._end is end:
                    return ("yours", obj._number, "")
                if id(obj) in self.by_name:
                    return None
                kind = _travels_as_handle(obj)
                return None if kind is None else end.handle(obj, kind, signature=True)

        _Dumper(buffer).dump(message)
        return buffer.getvalue()

    def receive(self, originals=None):
        frame = _receive(self.sock)
        if frame is None:
            self.fail("the candidate's process ended")
        try:
            message = _Restricted(io.BytesIO(frame), self, originals or []).load()
        except Exception as e:  # noqa: BLE001
            self.fail(f"the candidate's answer could not be read: {type(e).__name__}: {e}"[:500])
        if not (isinstance(message, tuple) and len(message) in (3, 4) and isinstance(message[0], str)):
            self.fail("the candidate's process sent a malformed message")
        if message[0] in self.REQUESTS and not (
            len(message) == 4
            and type(message[1]) is int
            and message[1] in self.owned
            and isinstance(message[2], tuple)
            and isinstance(message[3], dict)
            and message[0] != "call"
        ):
            self.fail("the candidate's process sent a malformed request")
        return message

    def reply(self, kind, value, originals):
        self.send((kind, value, None))  # the candidate's arguments to a callback stay its own

    def passes_on(self, error):
        return isinstance(error, Exception)  # a test's timeout or an IsolationError stays here

    def answer(self, reply, originals):
        kind, value, states = reply
        if kind == "cannot":
            self.fail(str(value))
        if isinstance(states, list):
            for original, state in zip(originals, states):
                _restore(original, state)
        if kind == "stop":
            raise StopIteration
        if kind == "raise-text":
            raise RuntimeError(str(value))
        if kind == "raise":
            if not isinstance(value, BaseException):
                self.fail("the candidate's process sent a malformed answer")
            raise value
        if kind != "return":
            self.fail("the candidate's process sent a malformed answer")
        return value

    def fail(self, why: str) -> NoReturn:
        self.trouble = self.trouble or why
        raise IsolationError(why)

    def gone(self) -> NoReturn:
        self.fail("the candidate's process ended")


class _Restricted(pickle.Unpickler):
    """Builds only types from modules J already imported: builtins' data types, exceptions,
    a few standard data modules, and the repository's own modules. No functions, no
    metaclasses, no imports: C's bytes cannot make J run anything but trusted code."""

    def __init__(self, file: io.BytesIO, link: Link, originals: list) -> None:
        super().__init__(file)
        self.link = link
        self.originals = originals

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) in (3, 4) and type(pid[1]) is int):
            raise pickle.UnpicklingError("unknown reference")
        side, number, kind, *meta = pid
        if meta and not _meta_ok(meta[0]):
            raise pickle.UnpicklingError("a malformed handle")
        if side == "arg" and 0 <= number < len(self.originals):
            return self.originals[number]
        if side == "yours" and number in self.link.owned:
            return self.link.owned[number]
        if side == "mine" and kind in ("call", "iter") and 0 <= number < 1 << 20:
            return self.link.remote(number, kind, meta[0] if meta else {})
        raise pickle.UnpicklingError("unknown reference")

    def find_class(self, module: str, name: str):
        found = sys.modules.get(module)
        if found is None:
            raise pickle.UnpicklingError(f"{module} is not a module the tests use")
        for part in name.split("."):
            if part.startswith("__"):
                raise pickle.UnpicklingError(f"{module}.{name} is not a type")
            found = getattr(found, part)
        if not isinstance(found, type) or issubclass(found, type):
            raise pickle.UnpicklingError(f"{module}.{name} is not a data type")
        if module == "builtins":
            if name in _SAFE_BUILTINS or issubclass(found, BaseException):
                return found
        elif (
            issubclass(found, BaseException)
            or module in _SAFE_STDLIB
            or (module, name) in _SAFE_TYPES
            or self._in_tree(module)
        ):
            return found
        raise pickle.UnpicklingError(f"{module}.{name} cannot cross from the candidate's process")

    def _in_tree(self, module: str) -> bool:
        path = getattr(sys.modules[module], "__file__", None) or ""
        path = os.path.realpath(path)
        return path.startswith(self.link.root + os.sep) and "site-packages" not in path


def _restore(original: object, state: object, depth: int = 0) -> None:
    """Give `original` the state the candidate left its copy in (in place)."""
    if not (isinstance(state, tuple) and len(state) == 2) or depth > 4:
        return
    kind, value = state
    if kind == "list" and isinstance(original, list) and isinstance(value, list):
        original[:] = value
    elif kind == "dict" and isinstance(original, dict) and isinstance(value, dict):
        _refresh(original, value, depth)
    elif kind == "set" and isinstance(original, set) and isinstance(value, set):
        original.clear()
        original.update(value)
    elif kind == "bytearray" and isinstance(original, bytearray) and isinstance(value, bytes):
        original[:] = value
    elif kind == "attrs" and isinstance(value, dict) and hasattr(original, "__dict__"):
        _refresh(vars(original), value, depth)


def _refresh(target: dict, value: dict, depth: int) -> None:
    """Replace a dict's items, keeping the identity of nested containers of the same type."""
    for key in list(target):
        if key not in value:
            del target[key]
    for key, new in value.items():
        old = target.get(key, _MISSING)
        if old is not new and type(old) is type(new) and isinstance(new, (list, dict, set)):
            _restore(old, (_kind(new), new), depth + 1)
        elif old is not new:
            target[key] = new


def _kind(value: object) -> str:
    return "list" if isinstance(value, list) else "dict" if isinstance(value, dict) else "set"


_MISSING = object()
