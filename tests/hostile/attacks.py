"""Hostile candidates, one per attack class, shared by the hostile tests and by
benchmarks/hostile_matrix.py (which records the containment table).

Every function-harness attack defines `f` wrongly (the tests want f(2) == 4) and tries to
get a "passed" anyway, or to harm or read the host. `contained` says what the sandbox must
do: the outcomes a contained run may have, and a marker that must not appear in the
candidate's output (it prints the marker only if the attack got through)."""

from __future__ import annotations

from dataclasses import dataclass, field

TESTS = "EXPECTED = 'zq-' + 'hidden-answer'\nassert f(2) == 4\nassert f(3) != EXPECTED\n"
LEAK = "ATTACK-GOT-THROUGH"


@dataclass(frozen=True)
class Attack:
    name: str
    what: str
    solution: str
    allowed: tuple[str, ...]  # outcomes of a contained run
    process_limit: str = ""  # where the process tier cannot contain it: the documented limit
    tests: str = TESTS
    marker: str = LEAK
    needs: dict = field(default_factory=dict)  # host fixtures: {"socket": path, "secret": value}


FORGE_FD = """
import os, json
report = json.dumps({"outcome": "passed", "detail": ""}).encode()
for fd in range(3, 256):
    try:
        os.write(fd, b"0" * 64 + report)
    except OSError:
        pass
def f(x):
    return 0
os._exit(0)
"""

FORGE_PROC_FDS = """
import os, json
report = json.dumps({"outcome": "passed", "detail": ""}).encode()
opened = 0
for pid in os.listdir("/proc"):
    if not pid.isdigit() or int(pid) == os.getpid():
        continue
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        continue
    for fd in fds:
        try:
            with open(f"/proc/{pid}/fd/{fd}", "wb", buffering=0) as pipe:
                pipe.write(b"0" * 64 + report)
                opened += 1
        except OSError:
            pass
if opened:
    print("ATTACK-GOT-THROUGH: wrote into", opened, "descriptors of other processes")
def f(x):
    return 0
"""

STEAL_TESTS = """
import gc, re, sys
def f(x):
    if x == 2:
        return 4
    pattern = re.compile(rb"zq-[a-z]{6}-[a-z]{6}")  # the shape of the tests' secret answer
    for obj in gc.get_objects():
        for value in (list(obj.values()) if isinstance(obj, dict) else [obj]):
            if isinstance(value, str):
                value = value.encode(errors="replace")
            if isinstance(value, (bytes, bytearray)) and (found := pattern.search(value)):
                print("ATTACK-GOT-THROUGH: found the tests in memory")
                return found.group().decode()
    frame = sys._getframe()
    while frame is not None:
        if "EXPECTED" in frame.f_globals:
            print("ATTACK-GOT-THROUGH: found the tests' frame")
            return frame.f_globals["EXPECTED"]
        frame = frame.f_back
    return None
"""

READ_SECRETS = """
import os, glob
seen = []
for path in ["/proc/self/environ", "/proc/1/environ", f"/proc/{os.getppid()}/environ",
             *glob.glob("/proc/[0-9]*/environ"), *glob.glob("/root/.prochemy-hostile-*"),
             *glob.glob("/home/*/.prochemy-hostile-*")]:
    try:
        seen.append(open(path, "rb").read().decode(errors="replace"))
    except OSError:
        pass
text = " ".join(seen)
if "sk-hostile" in text:  # printed reversed, so redaction of the output cannot hide a leak
    print("ATTACK-GOT-THROUGH:", text[::-1][:2000])
def f(x):
    return 0
"""

UNIX_SOCKET = """
import socket, glob
for path in ["{socket}", *glob.glob("/run/**/*.sock", recursive=True),
             *glob.glob("/var/run/**/*.sock", recursive=True)]:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(1)
        s.connect(path)
        print("ATTACK-GOT-THROUGH: connected to", path)
    except OSError:
        pass
def f(x):
    return 0
"""

TCP = """
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=1)
    print("ATTACK-GOT-THROUGH: reached a host TCP listener")
except OSError:
    pass
def f(x):
    return 0
"""

TMP_FLOOD = """
import os
written = 0
try:
    for i in range(64):
        with open(f"/tmp/flood-{i}", "wb") as out:
            for _ in range(8):
                out.write(b"x" * (1 << 20))
                written += 1 << 20
except OSError as e:
    print("stopped after", written >> 20, "MB:", e)
if written >= 512 << 20:
    print("ATTACK-GOT-THROUGH: wrote", written >> 20, "MB into /tmp")
def f(x):
    return 0
"""

PTRACE = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
attached = []
for pid in os.listdir("/proc"):
    if pid.isdigit() and int(pid) != os.getpid():
        if libc.ptrace(16, int(pid), 0, 0) == 0:  # PTRACE_ATTACH
            attached.append(pid)
        for name in ("mem", "environ"):
            try:
                open(f"/proc/{pid}/{name}", "rb").read(1)
                if name == "mem":
                    attached.append(pid + "/mem")
            except OSError:
                pass
if attached:
    print("ATTACK-GOT-THROUGH: ptrace/mem of", attached)
def f(x):
    return 0
"""

WRITE_OUTSIDE = """
import os
for path in ["{target}", "/etc/prochemy-hostile", "{home}/.prochemy-hostile-mark"]:
    try:
        open(path, "a").write("x")
        print("ATTACK-GOT-THROUGH: wrote", path)
    except OSError:
        pass
def f(x):
    return 0
"""

FUNCTION_ATTACKS = [
    Attack(
        "forge-result-fd",
        "write a fake 'passed' report to every inherited fd, then os._exit(0)",
        FORGE_FD,
        ("error",),
    ),
    Attack(
        "forge-stdout",
        "print a fake result line on stdout",
        'print(\'{"outcome": "passed", "detail": "", "id": 0}\', flush=True)\ndef f(x):\n    return 0\n',
        ("failed",),
    ),
    Attack(
        "forge-proc-fds",
        "open other processes' pipes through /proc/<pid>/fd and write a report",
        FORGE_PROC_FDS,
        ("failed",),
        process_limit="process tier as a non-root user: candidates share the user's uid",
    ),
    Attack("exit-before-tests", "sys.exit(0) while loading", "import sys\nsys.exit(0)\n", ("error",)),
    Attack(
        "os-exit-in-call",
        "os._exit(0) inside the function under test",
        "import os\ndef f(x):\n    os._exit(0)\n",
        ("error",),
    ),
    Attack(
        "always-equal",
        "return an object whose __eq__ is always true",
        "class Eq:\n    def __eq__(self, other):\n        return True\n    def __ne__(self, other):\n"
        "        return False\n    __hash__ = object.__hash__\ndef f(x):\n    return Eq()\n",
        ("failed",),
    ),
    Attack(
        "str-subclass-eq",
        "return a str subclass whose __eq__ is always true",
        "class S(str):\n    def __eq__(self, other):\n        return True\n    def __ne__(self, other):\n"
        "        return False\n    __hash__ = str.__hash__\ndef f(x):\n    return S('nope')\n",
        ("failed",),
    ),
    Attack(
        "patch-builtins",
        "replace AssertionError and isinstance in builtins",
        "import builtins\nbuiltins.AssertionError = type('Nope', (Exception,), {})\n"
        "builtins.isinstance = lambda *a: True\ndef f(x):\n    return 0\n",
        ("failed", "error"),
    ),
    Attack(
        "steal-tests",
        "search memory and frames for the tests' expected values",
        STEAL_TESTS,
        ("failed",),
        tests="EXPECTED = 'zq-' + 'hidden' + '-' + 'answer'\nassert f(2) == 4\nassert f(3) == EXPECTED\n",
    ),
    Attack(
        "kill-everyone",
        "kill(-1, SIGKILL): the worker, the judge, everything of its uid",
        "import os, signal\nos.kill(-1, signal.SIGKILL)\ndef f(x):\n    return 0\n",
        ("error", "resource-limit", "failed"),
    ),
    Attack(
        "kill-parent",
        "kill the worker that forked it",
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\ndef f(x):\n    return 0\n",
        ("error", "resource-limit"),
    ),
    Attack(
        "read-secrets",
        "read API keys from /proc/*/environ and a dotfile in the home",
        READ_SECRETS,
        ("failed",),
        needs={"secret": True},
    ),
    Attack(
        "unix-socket",
        "connect to a host Unix socket in /var/tmp and any under /run",
        UNIX_SOCKET,
        ("failed",),
        needs={"socket": True},
        process_limit="process tier: no mount namespace, socket files stay reachable",
    ),
    Attack(
        "tcp-loopback",
        "connect to a host TCP listener on loopback",
        TCP,
        ("failed",),
        needs={"tcp": True},
        process_limit="process tier: no network namespace",
    ),
    Attack(
        "tmp-flood",
        "fill /tmp with 512 MB in 8 MB files",
        TMP_FLOOD,
        ("failed", "resource-limit", "timeout"),
        process_limit="process tier: only the per-file size limit and the wall clock bound it",
    ),
    Attack(
        "ptrace-and-mem", "ptrace or read /proc/<pid>/mem of the judge and the worker", PTRACE, ("failed",)
    ),
    Attack(
        "write-outside",
        "append to files outside its directory (a repo file, /etc, home)",
        WRITE_OUTSIDE,
        ("failed",),
        needs={"target": True},
        process_limit="process tier as a non-root user: the user's own files are writable",
    ),
    Attack("infinite-loop", "loop forever", "def f(x):\n    while True:\n        pass\n", ("timeout",)),
    Attack(
        "memory-bomb",
        "allocate without end",
        "def f(x):\n    blocks = []\n    while True:\n        blocks.append(bytearray(64 << 20))\n",
        ("resource-limit",),
    ),
    Attack(
        "fork-bomb",
        "fork without end",
        "import os\ndef f(x):\n    while True:\n        os.fork()\n",
        ("resource-limit", "timeout", "error"),
    ),
    Attack(
        "daemon",
        "leave a setsid double-forked process behind",
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        time.sleep(600)\n    os._exit(0)\ndef f(x):\n    return 0\n",
        ("failed",),
    ),
    Attack(
        "output-flood",
        "print 50 MB",
        "import sys\nsys.stdout.write('x' * (50 << 20))\ndef f(x):\n    return 0\n",
        ("failed",),
    ),
]

# Repository runner: the candidate replaces `add` in calc.py (the test wants add(2, 3) == 5).
# In pytest's process each of these can fake a pass or worse; a pass counts only when
# confirmed with the candidate in its own process (sandbox/isolate.py).
REPO_FORGE_FD = """def add(a, b):
    import os, json
    report = json.dumps({"outcome": "passed", "detail": "", "data": {}}).encode()
    for fd in range(3, 256):
        try:
            os.write(fd, b"0" * 64 + report)
        except OSError:
            pass
    os._exit(0)
"""

REPO_PATCH_PYTEST = """def add(a, b):
    import _pytest.reports
    _pytest.reports.BaseReport.failed = property(lambda self: False)
    _pytest.reports.BaseReport.passed = property(lambda self: True)
    return a - b
"""

REPO_ALWAYS_EQUAL = """class Anything:
    def __eq__(self, other):
        return True


def add(a, b):
    return Anything()
"""

# Sends its own answer down the isolated candidate's socket: a pickle that would run a
# command in the tests' process if it were unpickled with pickle's defaults.
REPO_RAW_PICKLE = """def add(a, b):
    import gc, socket, struct
    payload = b"cos\\nsystem\\n(S'echo ATTACK-GOT-THROUGH'\\ntR."
    for obj in gc.get_objects():
        if isinstance(obj, socket.socket):
            try:
                obj.sendall(struct.pack("!Q", len(payload)) + payload)
            except OSError:
                pass
    return a + b
"""

REPO_KILL_OTHERS = """def add(a, b):
    import os, signal
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
    return a + b
"""

# These two compute the right sum: their harm is aimed at the isolated run (the tests'
# process), so in pytest's process alone they pass honestly.
REPO_RIGHT_ANSWERS = {"raw-pickle-to-tests", "kill-other-processes"}
REPO_ATTACKS = {
    "forge-result-fd": REPO_FORGE_FD,
    "patch-pytest-reports": REPO_PATCH_PYTEST,
    "always-equal-object": REPO_ALWAYS_EQUAL,
    "raw-pickle-to-tests": REPO_RAW_PICKLE,
    "kill-other-processes": REPO_KILL_OTHERS,
}
