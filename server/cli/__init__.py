"""`prochemy`: the command-line front end."""

from .main import main

__all__ = ["main"]
