"""The errors whose message is the whole story for the user: one line, no traceback, for every
door into the application (the CLI's exit code 1, the HTTP API's 4xx)."""

from cache_store import ArchiveError, IndexBusyError, IndexDamagedError, PayloadError
from cues import ProfileError, SubtitleFileError
from engines.asr import AlignmentNotReadyError
from engines.languages import LanguageError
from engines.media import MediaError
from engines.models import ModelError
from engines.translate import TranslationError
from glossary import GlossaryError
from memory import TmxError
from optimizer import OptimizerError
from pipeline import ConfigError

from ._request import JobError

__all__ = ["USER_ERRORS", "first_line"]

USER_ERRORS = (
    ConfigError,
    JobError,
    MediaError,
    ModelError,
    TranslationError,
    PayloadError,
    OptimizerError,
    IndexBusyError,
    IndexDamagedError,
    AlignmentNotReadyError,
    ArchiveError,
    GlossaryError,
    TmxError,
    LanguageError,
    ProfileError,
    SubtitleFileError,
)


def first_line(exc: Exception) -> str:
    """An error's message cut to its first line (its type where it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
