"""Language-server features without a transport: the server object and the argument
parsing of commands, exercised directly (the stdio end-to-end tests are in tests/e2e)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prochemy.server.lsp.commands import PositionArgs, RootArgs, parse
from prochemy.server.lsp.setup import create_server
from pygls.exceptions import JsonRpcInvalidParams


def test_settings_are_read_once_per_folder_and_again_after_a_change(tmp_path: Path) -> None:
    server = create_server()
    first = server.settings(tmp_path)
    assert server.settings(tmp_path) is first  # cached: status polls cost no file reads
    server.options = {"max_tokens": 64}
    server.files_changed()  # a watched file (e.g. pyproject.toml) changed
    second = server.settings(tmp_path)
    assert second is not first and second.max_tokens == 64


def test_every_command_is_registered() -> None:
    server = create_server()
    names = set(server.protocol.fm.commands)
    assert {"prochemy.refinePrompt", "prochemy.generate", "prochemy.status", "prochemy.cancel"} <= names


@pytest.mark.parametrize(
    "args",
    [("not an object",), ({"root": 3},), ({}, {}), ({"uri": "file:///x.py"},)],
)
def test_malformed_command_arguments_are_invalid_params(args: tuple) -> None:
    model = PositionArgs if args and isinstance(args[0], dict) and "uri" in args[0] else RootArgs
    with pytest.raises(JsonRpcInvalidParams):
        parse(model, args)


def test_well_formed_arguments_parse() -> None:
    parsed = parse(PositionArgs, ({"uri": "file:///x.py", "line": 3},))
    assert parsed.line == 3 and parsed.check is True
    assert parse(RootArgs, ()).root is None
