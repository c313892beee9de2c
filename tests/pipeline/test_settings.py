"""The spec's TM_* and GLOSSARY_* variables reach the policies the store and stages use."""

from __future__ import annotations

from pathlib import Path

import pytest

from glossary import GlossaryPolicy
from memory import TmPolicy
from pipeline import ConfigError, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / ".env.pipeline.example"


def test_defaults_are_the_specs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TM_MIN_CONFIDENCE", raising=False)
    settings = load_settings(env_file=tmp_path / "none.env")
    assert settings.tm_policy == TmPolicy()
    assert settings.glossary_policy == GlossaryPolicy()


def test_environment_and_file_reach_the_policies(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = tmp_path / "pipeline.env"
    env.write_text("TM_FUZZY_MATCH_THRESHOLD=0.7\nGLOSSARY_MIN_FREQUENCY=5\n")
    monkeypatch.setenv("TM_CONTEXT_WINDOW_SIZE", "1")
    monkeypatch.setenv("TM_MAX_CACHE_SIZE_GB", "0.5")
    monkeypatch.setenv("TRANSLATION_MEMORY_ENABLED", "false")
    monkeypatch.setenv("CACHE_GLOSSARY_LEARNING", "false")
    s = load_settings(env_file=env)
    assert s.tm_policy == TmPolicy(
        enabled=False, fuzzy_threshold=0.7, context_window=1, max_bytes=1 << 29
    )
    assert s.glossary_policy.min_frequency == 5
    assert s.glossary_policy.learning_enabled is False


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TM_FUZZY_MATCH_THRESHOLD", "1.5")
    with pytest.raises(ConfigError, match="TM_FUZZY_MATCH_THRESHOLD"):
        load_settings(env_file=tmp_path / "none.env")


def test_example_config_loads_and_lists_only_known_variables() -> None:
    settings = load_settings(env_file=EXAMPLE)
    names = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in EXAMPLE.read_text().splitlines()
        if "=" in line and line.lstrip("# ").split("=", 1)[0].isupper()
    }
    assert names <= {name.upper() for name in type(settings).model_fields}


def test_the_example_config_leaves_asr_settings_to_similar_cuts_and_the_optimizer() -> None:
    assert not load_settings(env_file=EXAMPLE).asr_pinned
