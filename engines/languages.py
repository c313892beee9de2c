"""Language codes the pipeline knows: what Whisper hears, plus what a translation model writes."""

from __future__ import annotations

from .translate import FLORES_CODES

__all__ = ["LanguageError", "check_language"]


class LanguageError(ValueError):
    """A language code neither Whisper nor a translation model knows."""


def check_language(code: str | None, what: str = "", *, targets: bool = False) -> None:
    """Raise LanguageError for a ``code`` Whisper does not hear (``targets``: nor a translation
    model writes). None passes."""
    from whisperx.utils import LANGUAGES  # a plain dict module: whisperx's heavy parts stay out

    if code is None:
        return
    known = {*LANGUAGES, *FLORES_CODES} if targets else set(LANGUAGES)
    if code not in known:
        label = f"{what} language code" if what else "language code"
        raise LanguageError(f"unknown {label} {code!r}: use an ISO 639-1 code such as hi, en, ta")
