"""The JDK that judges Java answers, and the trusted launcher they run under.

The launcher confines answers with Java's SecurityManager, which JDK 24 removed (JEP 486):
only a JDK from 17 to 23 can judge. Found once per process, newest first.
"""

from __future__ import annotations

import re
import shutil
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

OLDEST, NEWEST = 17, 23
JVM_DIRS = (Path("/usr/lib/jvm"),)
INSTALL_HINT = "install one (Debian: apt-get install openjdk-17-jdk-headless)"


class NoJdk(RuntimeError):
    """No JDK on this machine can judge Java answers; the message says what to install."""


def _version(home: Path) -> int | None:
    try:
        release = (home / "release").read_text()
    except OSError:
        return None
    found = re.search(r'^JAVA_VERSION="(\d+)', release, re.MULTILINE)
    return int(found.group(1)) if found else None


def _candidates() -> list[Path]:
    homes = [p for d in JVM_DIRS if d.is_dir() for p in sorted(d.iterdir())]
    on_path = shutil.which("javac")
    if on_path:
        homes.append(Path(on_path).resolve().parent.parent)
    return homes


@lru_cache(maxsize=1)
def java_home() -> Path:
    """The newest JDK from 17 to 23 with both javac and java."""
    usable = []
    for home in _candidates():
        version = _version(home)
        if version is not None and OLDEST <= version <= NEWEST and (home / "bin" / "javac").is_file():
            usable.append((version, str(home.resolve())))
    if not usable:
        raise NoJdk(
            f"judging Java needs a JDK {OLDEST} to {NEWEST} (its SecurityManager confines the "
            f"answers; JDK 24 removed it) and none was found: {INSTALL_HINT}"
        )
    return Path(max(usable)[1])


def launcher_source() -> str:
    return files("prochemy.sandbox").joinpath("java/Launcher.java").read_text()
