"""Paths the editor names: file URIs to paths, and the refusal of anything outside the
workspace folders."""

from __future__ import annotations

from pathlib import Path

from pygls.uris import to_fs_path


def fs_path(uri: str) -> Path:
    """The file a file: URI names (ValueError for any other kind of URI)."""
    path = to_fs_path(uri)
    if path is None:
        raise ValueError(f"{uri!r} does not name a file")
    return Path(path)


class OutsideWorkspace(ValueError):
    """A path or URI the server will not touch: it reads and writes only inside the
    workspace folders the editor opened."""
