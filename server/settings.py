"""The front ends' configuration: the optimizer's Settings plus the `editor` section, which
only the language server acts on. The CLI loads the same schema so that one config file
(with an `[editor]` table) serves both front ends."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prochemy.optimizer.config import Layer, LoadedSettings, Settings, load_settings
from pydantic import BaseModel, ConfigDict, Field


class EditorSettings(BaseModel):
    """What the language server does on its own (the `editor` section)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    background_refine: bool = Field(False, description="refine again when test files change")
    debounce_s: float = Field(30.0, ge=0, description="quiet time after a test-file change")
    inline_on_typing: bool = Field(False, description="answer automatic inline-completion triggers")
    k_real: int = Field(10, ge=1, description="real training tasks per refinement")
    k_synthetic: int = Field(10, ge=0)
    n: int = Field(10, ge=1, description="prompts per iteration")
    k_max: int = Field(10, ge=1)
    patience: int = Field(3, ge=1)
    held_out: int | None = Field(None, ge=1, description="measure on at most N held-out tasks")
    # the search options beyond the paper (prochemy refine --reflect/--structure/--race/--accept-p)
    reflect: float = Field(0.0, ge=0.0, le=1.0, description="share of variants by reflective mutation")
    structure: float = Field(0.0, ge=0.0, le=1.0, description="share of variants changing examples/style")
    race: int | None = Field(None, ge=1, description="racing batch size (None: no racing)")
    screen: int | None = Field(
        None, ge=1, description="candidate training tasks screened by the seed (None: no screening)"
    )
    accept_p: float | None = Field(
        0.1,
        gt=0.0,
        le=1.0,
        description="chance a run may take of adopting a prompt no better than the seed, shared by "
        "its variants (1: any training advantage; null: the paper's selection)",
    )


class FrontEndSettings(Settings):
    editor: EditorSettings = EditorSettings()


def load_front_end_settings(
    project_root: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    extra_layers: list[Layer] | None = None,
) -> LoadedSettings:
    return load_settings(project_root, overrides, env, extra_layers, schema=FrontEndSettings)


def front_end(settings: Settings) -> FrontEndSettings:
    """Settings loaded by a front end carry the editor section (defaults otherwise)."""
    return (
        settings
        if isinstance(settings, FrontEndSettings)
        else FrontEndSettings.model_validate(settings.model_dump())
    )
