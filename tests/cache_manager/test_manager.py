"""The spec's Python API over the facets: ASR results and fingerprints in and out."""

from __future__ import annotations

from pathlib import Path

import pytest

from cache_manager import CacheManager

CONFIG = {"model": "tiny.en", "model_version": "v1", "language": "en", "beam_size": 5}
RESULT = {"language": "en", "segments": [{"start": 0.0, "end": 1.5, "text": "hello"}]}


def test_spec_api_round_trip(tmp_path: Path) -> None:
    cache = CacheManager(tmp_path)
    assert cache.get_asr_result("a" * 64, CONFIG) is None
    cache.set_asr_result("a" * 64, CONFIG, RESULT, compute_seconds=12.5)
    assert cache.get_asr_result("a" * 64, CONFIG) == RESULT
    lookup = cache.store.get(cache.asr_key("a" * 64, CONFIG))
    assert lookup.hit and lookup.saved_seconds == 12.5
    assert cache.store.payload_path(lookup.key).is_file()
    assert (tmp_path / "index.duckdb").is_file()


def test_rejects_result_without_segments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="segments"):
        CacheManager(tmp_path).set_asr_result("a", CONFIG, {"segments": [{"text": "x"}]})
