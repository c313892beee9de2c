"""Test helpers: real media made with espeak-ng and ffmpeg, and a tiny local translation model."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines.asr import word_error_rate

REPO = Path(__file__).resolve().parents[1]
CPWX = str(Path(sys.executable).with_name("cpwx"))

SPOKEN = (
    "The film begins in a small village near the river. Every morning the children walk "
    "to school along the dusty road. Their teacher tells them stories about the old king and "
    "his clever minister. One day a stranger arrives with a box full of letters. Nobody knows "
    "where he came from or why he has come."
)


def run_in_processes(*jobs: tuple[Callable[..., object], tuple[object, ...]]) -> None:
    """Run each (function, args) in its own spawned process at once; all must exit 0."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=fn, args=args) for fn, args in jobs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0, f"{p.name} exited {p.exitcode}"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def faststart_copy(src: Path, dst: Path) -> Path:
    """A faststart MP4 keeps its index up front: cut short, it still probes but won't decode."""
    ffmpeg("-i", str(src), "-c", "copy", "-movflags", "+faststart", str(dst))
    return dst


def speak(text: str, out: Path, *, video: bool = True, speed: int = 150) -> Path:
    """espeak-ng speech, muxed by ffmpeg into ``out`` (MP4 with a video track, or audio only)."""
    wav = out.with_suffix(".speech.wav")
    subprocess.run(["espeak-ng", "-s", str(speed), "-w", str(wav), text], check=True)
    picture = ("-f", "lavfi", "-i", "color=c=navy:s=160x90:r=5") if video else ()
    encode = ("-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
    ffmpeg(
        *picture, "-i", str(wav), *(encode if video else ()), "-c:a", "aac", "-b:a", "48k", str(out)
    )
    wav.unlink()
    return out


wer = word_error_rate


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.stdout)
        return parsed


def run_cli(*args: str, env: dict[str, str], timeout: float = 600) -> CliResult:
    proc = subprocess.run(
        [CPWX, *args],
        check=False,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=env.get("CPWX_TEST_CWD", str(REPO)),
        stdin=subprocess.DEVNULL,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def tree_state(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and mtime: equal states mean nothing changed."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def marian_env(folder: Path) -> dict[str, str]:
    """Settings for jobs that translate with a tiny Marian trained on ``SPOKEN`` at ``folder``."""
    return {
        "TRANSLATION_MODEL": str(tiny_marian(folder, SPOKEN.split("."))),
        "TRANSLATION_MAX_LENGTH": "24",
        "TM_MIN_CONFIDENCE": "0",  # random weights: every translation is unsure
    }


def tiny_marian(folder: Path, corpus: list[str]) -> Path:
    """A random-weight MarianMT, WordLevel tokenizer trained here: no hub, no sentencepiece."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import MarianConfig, MarianMTModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(
        corpus, trainers.WordLevelTrainer(special_tokens=["<pad>", "</s>", "<unk>"])
    )
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", tok.token_to_id("</s>"))]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    fast.save_pretrained(folder)
    config = MarianConfig(
        vocab_size=tok.get_vocab_size(),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        forced_eos_token_id=1,
    )
    torch.manual_seed(0)  # the same random weights every run, so outputs do not flake
    MarianMTModel(config).save_pretrained(folder)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_prefect_server(home: Path) -> Iterator[str]:
    """A real Prefect server on loopback (SQLite under ``home``); yields its API URL."""
    from deployments import start_server

    server, url = start_server(free_port(), home, env={"PREFECT_HOME": str(home)})
    try:
        yield url
    finally:
        server.stop()
