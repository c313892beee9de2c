"""Cache keys: SHA-256 over a canonical JSON of named parts.

Like Prefect's cache policies, a key names every input it hashes, so a miss can be explained by
comparing the parts of the wanted key with those of the nearest stored entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CODE_VERSIONS",
    "CacheKey",
    "CacheKeyError",
    "Layer",
    "asr_key",
    "explain_difference",
    "fingerprint_key",
]

Part = str | int | float | bool | None

# Bump a stage's version when its code changes what it produces: every older entry then misses.
CODE_VERSIONS: Mapping[str, str] = {
    "fingerprints": "fp-1",
    "asr": "asr-2",
    "translations": "mt-1",
}


class Layer:
    """The spec's payload layers; a stage may add one of its own (see ``Store.layers``)."""

    FINGERPRINTS = "fingerprints"
    ASR = "asr"
    TRANSLATIONS = "translations"
    ALL = (FINGERPRINTS, ASR, TRANSLATIONS)


class CacheKeyError(TypeError):
    """A key part cannot be hashed deterministically."""


def _check(name: str, value: Any) -> Part:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return round(value, 9)
    raise CacheKeyError(
        f"cache key part {name!r} has type {type(value).__name__}, which has no stable hash: "
        "pass a str, int, float, bool or None (convert paths with str(), records to fields)"
    )


@dataclass(frozen=True)
class CacheKey:
    layer: str
    parts: Mapping[str, Part]

    @classmethod
    def build(cls, layer: str, code_version: str | None = None, **parts: Any) -> CacheKey:
        """``code_version``: the producing code's version, for a layer ``CODE_VERSIONS`` does
        not list (a stage's own layer): bump it when the code changes what it stores."""
        version = code_version or CODE_VERSIONS.get(layer)
        if version is None:
            raise CacheKeyError(
                f"layer {layer!r} has no code version: pass code_version= to CacheKey.build "
                "(and bump it whenever the code changes what it stores)"
            )
        checked = {name: _check(name, value) for name, value in sorted(parts.items())}
        checked["code_version"] = version
        return cls(layer, checked)

    @property
    def digest(self) -> str:
        canonical = json.dumps(
            {"layer": self.layer, "parts": dict(self.parts)},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def audio_hash(self) -> str | None:
        value = self.parts.get("audio_hash")
        return value if isinstance(value, str) else None


def fingerprint_key(audio_hash: str) -> CacheKey:
    """Layer 1: the spec's ``SHA256(audio_content)``."""
    return CacheKey.build(Layer.FINGERPRINTS, audio_hash=audio_hash)


def asr_key(audio_hash: str, config: Mapping[str, Any]) -> CacheKey:
    """Layer 3: the audio hash with every setting that changes its transcript."""
    return CacheKey.build(Layer.ASR, audio_hash=audio_hash, **config)


_MODEL_PARTS = ("model", "model_version")


def explain_difference(wanted: Mapping[str, Part], stored: Mapping[str, Part]) -> str:
    """Say why a stored entry for the same audio does not serve the wanted key."""
    changed = sorted(k for k in set(wanted) | set(stored) if wanted.get(k) != stored.get(k))
    if not changed:
        return "same parts, different key (index damaged?)"
    detail = ", ".join(f"{k} {stored.get(k)!r} -> {wanted.get(k)!r}" for k in changed)
    if "code_version" in changed:
        kind = "code version changed"
    elif any(k in _MODEL_PARTS for k in changed):
        kind = "model changed"
    else:
        kind = "config changed"
    return f"{kind}: {detail}"
