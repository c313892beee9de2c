"""What the tests and the benchmarks share: real media, the CLI run as a user runs it, real
services on loopback (Prefect, PostgreSQL, an S3 API), a tiny local translation model, and the
cuts of a program with the scoring of their alignment. Installed with the project, so a
benchmark is a plain script."""

from engines.asr import word_error_rate as wer

from ._cuts import (
    PAL,
    SR,
    Pcm,
    Score,
    Truth,
    chromaprint_at,
    decode_pcm,
    flip_bits,
    pause_around,
    pauses,
    read_pcm,
    score,
    with_noise,
    write_pcm,
)
from ._helpers import (
    CPWX,
    REPO,
    CliResult,
    free_port,
    run_cli,
    run_in_processes,
    running_prefect_server,
    timed,
    tree_state,
)
from ._marian import marian_env, tiny_marian
from ._media import (
    SPOKEN,
    SPOKEN_ES,
    SPOKEN_HI,
    bazarr_pcm,
    faststart_copy,
    ffmpeg,
    make_clip,
    pyannote_sample,
    script,
    speak,
    speak_hindi,
)
from ._models import base_settings
from ._services import S3_ENV, MotoS3, Postgres, moto_s3, postgres, shared_level, team_env

__all__ = [
    "CPWX",
    "PAL",
    "REPO",
    "S3_ENV",
    "SPOKEN",
    "SPOKEN_ES",
    "SPOKEN_HI",
    "SR",
    "CliResult",
    "MotoS3",
    "Pcm",
    "Postgres",
    "Score",
    "Truth",
    "base_settings",
    "bazarr_pcm",
    "chromaprint_at",
    "decode_pcm",
    "faststart_copy",
    "ffmpeg",
    "flip_bits",
    "free_port",
    "make_clip",
    "marian_env",
    "moto_s3",
    "pause_around",
    "pauses",
    "postgres",
    "pyannote_sample",
    "read_pcm",
    "run_cli",
    "run_in_processes",
    "running_prefect_server",
    "score",
    "script",
    "shared_level",
    "speak",
    "speak_hindi",
    "team_env",
    "timed",
    "tiny_marian",
    "tree_state",
    "wer",
    "with_noise",
    "write_pcm",
]
