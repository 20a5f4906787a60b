"""One configuration model, filled from layers: defaults < user file < project < env < CLI.

Every leaf remembers which layer set it, so `prochemy doctor` can say where a value
came from and a bad value is reported with the file (or variable) and key that set it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import platformdirs
from prochemy.sandbox.models import SandboxSettings
from pydantic import BaseModel, ConfigDict, Field, ValidationError

ENV_PREFIX = "PROCHEMY_"
# Environment variables with the prefix that are not configuration keys.
ENV_RESERVED = {"PROCHEMY_CONFIG_FILE"}
# a refinement keeps this many runners-up; generation tries `generate.alternates` of them
MAX_ALTERNATES = 7


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Endpoint(_Strict):
    """An OpenAI-compatible endpoint. No base_url means: start the embedded model."""

    base_url: str | None = None
    model: str | None = None
    api_key_env: str = Field("OPENAI_API_KEY", description="name of the env var holding the key")


class EmbeddedModel(_Strict):
    """The local llama.cpp model used when no endpoint is configured."""

    choice: Literal["default", "small"] = "default"
    path: Path | None = Field(None, description="any GGUF file; overrides choice")
    threads: int | None = Field(None, ge=1)
    parallel: int = Field(4, ge=1, description="llama-server slots")
    ctx_per_slot: int = Field(4096, ge=512)
    start_timeout_s: float = Field(120.0, gt=0)
    speculative: Literal["none", "ngram", "draft"] = Field(
        "none",
        description="speculative decoding: 'ngram' drafts from text already in the context "
        "(answers repeat the prompt's signature and docstring), 'draft' with the small model "
        "(benchmarks/speculative.py measures both)",
    )


class RepoTests(_Strict):
    """How a repository's own test suite is run and mined (the `test` section)."""

    python: Path | None = Field(
        None,
        description="interpreter with the repo's dependencies "
        "(default: the repo's .venv or venv, else Prochemy's own)",
    )
    test_timeout_s: float = Field(10.0, gt=0, description="per test")
    baseline_timeout_s: float = Field(900.0, gt=0, description="the whole suite, once")
    memory_mb: int = Field(4096, ge=256, description="address space of a test run")
    min_body_lines: int = Field(1, ge=1, description="smaller functions are not mined")
    max_body_lines: int = Field(80, ge=1, description="larger functions are not mined")
    max_related_tests: int = Field(25, ge=1, description="tests run per candidate, at most")
    held_out_fraction: float = Field(0.34, ge=0, lt=1, description="mined tasks kept for the seed guard")


class GuidedGeneration(_Strict):
    """Test-guided generation (the `generate` section): when a function's related tests
    fail its first (greedy) answer, draw further candidates and offer the first that passes."""

    candidates: int = Field(
        8, ge=1, le=64, description="generations per function, the greedy one included (1: no retries)"
    )
    # none by default: on HumanEval+ with the 1.5B, samples gained more (benchmarks/RESULTS.md)
    alternates: int = Field(
        0,
        ge=0,
        le=MAX_ALTERNATES,
        description="further candidates first answered greedily under the runner-up prompts of the "
        "project's last refinement (0: samples only)",
    )
    temperature: float = Field(
        0.8,
        ge=0,
        le=2,
        description="of the further candidates (0 with feedback: greedy repair, each candidate "
        "repairing the one before it)",
    )
    feedback: bool = Field(
        False,
        description="show each further candidate the last failing test (repair) instead of plain sampling",
    )
    # small models shown their failing answer mostly write it again (benchmarks/RESULTS.md)
    feedback_code: bool = Field(
        True,
        description="with feedback, show the failing answer itself too (false: only its failing "
        "test and output)",
    )
    max_tokens: int = Field(
        8000, ge=64, description="completion tokens per function, all candidates together"
    )
    parallel: int | None = Field(
        None, ge=1, description="candidates generated at once (default: the endpoint's concurrency)"
    )
    max_repeats: int = Field(
        3, ge=1, description="stop after this many candidates in a row repeat earlier code"
    )
    show_tests: bool = Field(
        False,
        description="show the model the function's related tests (their source) with its statement",
    )


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("prochemy"))


class Settings(_Strict):
    endpoint: Endpoint = Endpoint()
    mutation: Endpoint | None = Field(None, description="separate endpoint for the mutation role")
    concurrency: int = Field(4, ge=1)
    # per request; an editor user hears of a hanging endpoint after the first one
    request_timeout_s: float = Field(180.0, gt=0)
    max_tokens: int = Field(768, ge=16)
    stop_at_code: bool = Field(
        True, description="end a generated answer at the end of its code (what extraction takes)"
    )
    prefill_code: Literal["off", "embedded", "always"] = Field(
        "off",
        description="start the answer with the task's own stub (signature and docstring) so the "
        "model writes only the body: with the embedded llama-server, or with any endpoint "
        "('always': one that continues an unfinished assistant turn, as llama-server and vLLM "
        "do; OpenAI's API does not)",
    )
    retries: int = Field(4, ge=0, description="per request, on 429/5xx/timeouts")
    max_consecutive_failures: int = Field(6, ge=1)
    cache_dir: Path = Field(default_factory=default_cache_dir)
    model: EmbeddedModel = EmbeddedModel()
    sandbox: SandboxSettings = SandboxSettings()
    test: RepoTests = RepoTests()
    generate: GuidedGeneration = GuidedGeneration()


class ConfigError(Exception):
    """A configuration value is wrong; the message names its source and key."""


class Layer(BaseModel):
    """One source of settings: a name to show the user and its nested values."""

    source: str
    values: dict[str, Any]


class LoadedSettings(BaseModel):
    settings: Settings
    sources: dict[str, str]  # dotted key -> layer name, for every leaf

    def describe(self) -> list[tuple[str, Any, str]]:
        """(key, effective value, source) for every leaf, for `doctor`."""
        flat = flatten(self.settings.model_dump(mode="json"))
        return [(k, v, self.sources.get(k, "default")) for k, v in sorted(flat.items())]


def user_config_file() -> Path:
    override = os.environ.get("PROCHEMY_CONFIG_FILE")
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir("prochemy")) / "config.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e


def file_layers(project_root: Path | None) -> list[Layer]:
    layers: list[Layer] = []
    user_file = user_config_file()
    if user_file.is_file():
        layers.append(Layer(source=str(user_file), values=_read_toml(user_file)))
    if project_root is not None:
        pyproject = project_root / "pyproject.toml"
        if pyproject.is_file():
            section = _read_toml(pyproject).get("tool", {}).get("prochemy")
            if section:
                layers.append(Layer(source=f"{pyproject} [tool.prochemy]", values=section))
    return layers


def env_layer(env: Mapping[str, str]) -> Layer:
    """PROCHEMY_SANDBOX__TIMEOUT_S=5 sets sandbox.timeout_s (double underscore nests)."""
    values: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name in ENV_RESERVED:
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        _set(values, path, raw)
    return Layer(source="environment (PROCHEMY_*)", values=values)


def load_settings(
    project_root: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    extra_layers: list[Layer] | None = None,
    schema: type[Settings] = Settings,
) -> LoadedSettings:
    """Merge all layers, lowest first, and validate once, naming the culprit on error.

    `overrides` are dotted keys from the CLI; `extra_layers` come last (LSP settings);
    `schema` is a front end's extension of Settings with its own sections.
    """
    layers = file_layers(project_root)
    layers.append(env_layer(os.environ if env is None else env))
    if overrides:
        cli: dict[str, Any] = {}
        for key, value in overrides.items():
            if value is not None:
                _set(cli, key.split("."), value)
        layers.append(Layer(source="command line", values=cli))
    layers.extend(extra_layers or [])
    return merge_layers(layers, schema)


def merge_layers(layers: list[Layer], schema: type[Settings] = Settings) -> LoadedSettings:
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for layer in layers:
        for key, value in flatten(layer.values).items():
            _set(merged, key.split("."), value)
            sources[key] = layer.source
    try:
        settings = schema.model_validate(merged)
    except ValidationError as e:
        raise ConfigError(_explain(e, sources)) from None
    return LoadedSettings(settings=settings, sources=sources)


def _explain(error: ValidationError, sources: dict[str, str]) -> str:
    lines = ["invalid configuration:"]
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"])
        source = sources.get(key) or next(
            (s for k, s in sources.items() if k.startswith(key + ".") or key.startswith(k + ".")),
            "default",
        )
        problem = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"  {source}: key '{key}': {problem}")
    return "\n".join(lines)


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}"""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """{"a.b": 1} -> {"a": {"b": 1}}"""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        _set(nested, key.split("."), value)
    return nested


def _set(target: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[path[-1]] = value
