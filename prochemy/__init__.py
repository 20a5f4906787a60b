"""Prochemy: refine a code-generation prompt against a repository's own tests."""

__version__ = "0.1.0"
