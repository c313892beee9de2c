from __future__ import annotations

from pathlib import Path

import pytest

from cache_store import CODE_VERSIONS, CacheKey, CacheKeyError, Layer, explain_difference


def test_key_is_deterministic_and_order_free() -> None:
    a = CacheKey.build(Layer.ASR, audio_hash="h", beam_size=5, model="tiny.en")
    b = CacheKey.build(Layer.ASR, model="tiny.en", beam_size=5, audio_hash="h")
    assert a.digest == b.digest
    assert len(a.digest) == 64
    assert a.parts["code_version"] == CODE_VERSIONS[Layer.ASR]


def test_every_part_changes_the_key() -> None:
    base = CacheKey.build(Layer.ASR, audio_hash="h", beam_size=5, language="en")
    for change in ({"audio_hash": "g"}, {"beam_size": 4}, {"language": "hi"}):
        parts = {"audio_hash": "h", "beam_size": 5, "language": "en", **change}
        assert CacheKey.build(Layer.ASR, **parts).digest != base.digest
    assert (
        CacheKey.build(Layer.TRANSLATIONS, audio_hash="h", beam_size=5, language="en").digest
        != base.digest
    )


def test_unhashable_part_says_how_to_fix() -> None:
    with pytest.raises(CacheKeyError, match=r"'model_dir'.*PosixPath.*str\(\)"):
        CacheKey.build(Layer.ASR, model_dir=Path("/m"))


@pytest.mark.parametrize(
    ("changed", "kind"),
    [
        ({"beam_size": 3}, "config changed: beam_size 5 -> 3"),
        ({"model_version": "v2"}, "model changed: model_version 'v1' -> 'v2'"),
        ({"code_version": "asr-9"}, "code version changed"),
    ],
)
def test_explain_difference_names_the_part(changed: dict[str, object], kind: str) -> None:
    stored = {"beam_size": 5, "model_version": "v1", "code_version": "asr-1"}
    wanted = {**stored, **changed}
    assert explain_difference(wanted, stored).startswith(kind)  # type: ignore[arg-type]
