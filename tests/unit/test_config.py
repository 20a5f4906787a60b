"""Configuration layers (defaults < user file < pyproject < env < CLI) and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from prochemy.optimizer.config import ConfigError, load_settings
from prochemy.server.settings import FrontEndSettings, load_front_end_settings


@pytest.fixture
def user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "user.toml"
    monkeypatch.setenv("PROCHEMY_CONFIG_FILE", str(path))
    return path


def project(tmp_path: Path, body: str) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text(f"[project]\nname='x'\n\n[tool.prochemy]\n{body}")
    return root


def test_layers_override_in_order_and_remember_their_source(tmp_path: Path, user_file: Path) -> None:
    user_file.write_text(
        'concurrency = 2\nmax_tokens = 100\n[endpoint]\nmodel = "from-user"\n[sandbox]\ntimeout_s = 3\n'
    )
    root = project(tmp_path, "max_tokens = 200\nsandbox.timeout_s = 4\n")
    env = {"PROCHEMY_SANDBOX__TIMEOUT_S": "5", "PROCHEMY_CONCURRENCY": "3", "UNRELATED": "1"}
    loaded = load_settings(root, overrides={"sandbox.timeout_s": 6.0, "endpoint.base_url": None}, env=env)
    s = loaded.settings
    assert (s.concurrency, s.max_tokens, s.sandbox.timeout_s, s.endpoint.model) == (3, 200, 6.0, "from-user")
    sources = {key: source for key, _, source in loaded.describe()}
    assert sources["endpoint.model"] == str(user_file)
    assert sources["max_tokens"].endswith("pyproject.toml [tool.prochemy]")
    assert sources["concurrency"] == "environment (PROCHEMY_*)"
    assert sources["sandbox.timeout_s"] == "command line"
    assert sources["sandbox.memory_mb"] == "default"
    assert s.endpoint.base_url is None  # a CLI flag left unset does not override


def test_unknown_key_names_the_file_and_key(tmp_path: Path, user_file: Path) -> None:
    root = project(tmp_path, "sandbox = { timeout = 3 }\n")
    with pytest.raises(ConfigError) as error:
        load_settings(root, env={})
    message = str(error.value)
    assert "pyproject.toml [tool.prochemy]" in message and "'sandbox.timeout'" in message
    assert "unknown key" in message


def test_wrong_type_names_the_environment_variable(user_file: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(None, env={"PROCHEMY_CONCURRENCY": "many"})
    assert "environment (PROCHEMY_*)" in str(error.value) and "'concurrency'" in str(error.value)


def test_wrong_type_in_user_file(user_file: Path) -> None:
    user_file.write_text('[model]\nchoice = "huge"\n')
    with pytest.raises(ConfigError) as error:
        load_settings(None, env={})
    assert str(user_file) in str(error.value) and "'model.choice'" in str(error.value)


def test_broken_toml_is_reported(user_file: Path) -> None:
    user_file.write_text("concurrency = = 2\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(None, env={})


def test_defaults_need_no_file(user_file: Path) -> None:
    s = load_settings(None, env={}).settings
    assert (
        s.endpoint.base_url is None and s.model.choice == "default" and s.sandbox.level == "bwrap"
    )  # never the weaker tier unasked


def test_speculative_decoding_names_its_server_arguments_and_its_cache(
    tmp_path: Path, user_file: Path
) -> None:
    from prochemy.optimizer.config import Endpoint
    from prochemy.optimizer.llm.gateway import endpoint_identity
    from prochemy.optimizer.llm.local_model import ModelMissing, speculative_args

    def settings(mode: str):
        return load_settings(overrides={"model.speculative": mode, "cache_dir": str(tmp_path)}).settings

    assert speculative_args(settings("none")) == ()
    assert speculative_args(settings("ngram")) == ("--spec-type", "ngram-simple")
    with pytest.raises(ModelMissing, match="prochemy model fetch --small"):
        speculative_args(settings("draft"))  # the draft model is not downloaded here
    plain, ngram = (endpoint_identity(settings(m), Endpoint())[0] for m in ("none", "ngram"))
    assert plain != ngram and ngram.endswith("+ngram")  # answers that may differ never share a cache
    with pytest.raises(ConfigError, match="speculative"):
        settings("fast")


def test_the_editor_section_carries_the_search_options_with_their_ranges(
    tmp_path: Path, user_file: Path
) -> None:

    root = project(tmp_path, "editor.reflect = 0.5\neditor.race = 5\neditor.accept_p = 0.1\n")
    loaded = load_front_end_settings(project_root=root, env={})
    editor = loaded.settings.editor if isinstance(loaded.settings, FrontEndSettings) else None
    assert editor is not None and (editor.reflect, editor.race, editor.accept_p) == (0.5, 5, 0.1)
    (tmp_path / "b").mkdir()
    bad = project(tmp_path / "b", "editor.structure = 1.5\n")
    with pytest.raises(ConfigError, match="structure"):
        load_front_end_settings(project_root=bad, env={})
