"""The language server, assembled: the server object and every feature registered on it
(one place that knows them all, so the features and the server never import each other)."""

from __future__ import annotations

from . import commands, editing, lifecycle, watching
from .app import ProchemyServer


def create_server() -> ProchemyServer:
    server = ProchemyServer()
    for feature in (lifecycle, commands, editing, watching):
        feature.register(server)
    return server
