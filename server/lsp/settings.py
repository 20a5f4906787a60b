"""Editor settings onto the one configuration model: a bad setting is dropped (and named),
the rest apply, so one typo does not turn the whole configuration back to defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prochemy.optimizer.config import ConfigError, Layer, LoadedSettings, flatten, nest

from ..settings import load_front_end_settings as load_settings

EDITOR_SOURCE = "editor settings"


def _without_nulls(flat: dict[str, Any]) -> dict[str, Any]:
    # editors send null for unset options: that means "not set here", not "set to null"
    return {k: v for k, v in flat.items() if v is not None and v != ""}


def settings_for(root: Path | None, options: dict[str, Any] | None) -> tuple[LoadedSettings, list[str]]:
    """The effective settings for a workspace folder, and one problem line per bad value."""
    # `server` is the client's own section (how to start us, e.g. VS Code's prochemy.server.*)
    flat = _without_nulls(flatten({k: v for k, v in (options or {}).items() if k != "server"}))
    problems: list[str] = []
    good: dict[str, Any] = {}
    for key, value in flat.items():
        try:
            load_settings(
                project_root=root, extra_layers=[Layer(source=EDITOR_SOURCE, values=nest({key: value}))]
            )
            good[key] = value
        except ConfigError as e:
            problems.append(f"{str(e).splitlines()[-1].strip()} (ignored; the default applies)")
    try:
        loaded = load_settings(
            project_root=root, extra_layers=[Layer(source=EDITOR_SOURCE, values=nest(good))]
        )
    except ConfigError as e:  # the user file, the project's or PROCHEMY_* are broken: say so
        problems.append(f"{e} (those layers are ignored)")
        try:
            loaded = load_settings(
                project_root=None, env={}, extra_layers=[Layer(source=EDITOR_SOURCE, values=nest(good))]
            )
        except ConfigError:
            loaded = load_settings(project_root=None, env={})
    return loaded, problems
