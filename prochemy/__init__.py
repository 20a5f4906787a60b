"""Prochemy: refine a code-generation prompt against a repository's own tests."""

from importlib.metadata import PackageNotFoundError, version

try:  # one source for the version: pyproject.toml, as installed
    __version__ = version("prochemy")
except PackageNotFoundError:  # running from a tree that was never installed
    __version__ = "0+unknown"
