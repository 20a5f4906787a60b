"""Secrets of the host never leave in a result: verdicts, output tails, logs and caches are
scrubbed of every value that looks like a credential in our environment, and of any value
registered by the code that holds one (the gateway's API key)."""

from __future__ import annotations

import os
import re

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION", re.I)
_MIN_LENGTH = 6  # shorter values ("1", "true") would redact ordinary text
_registered: set[str] = set()
MASK = "[redacted]"


def register(value: str | None) -> None:
    """A secret this process holds that is not (only) in its environment."""
    if value and len(value) >= _MIN_LENGTH:
        _registered.add(value)


def secret_values() -> list[str]:
    found = {v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_LENGTH}
    return sorted(found | _registered, key=len, reverse=True)  # longest first: no partial leaks


def redact(text: str) -> str:
    for value in secret_values():
        if value in text:
            text = text.replace(value, MASK)
    return text
