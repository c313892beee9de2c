"""A subtitle job: its request, the plan checked before any work starts, and its result."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from cache_store import (
    CacheKey,
    CacheManager,
    Glossary,
    GlossaryStore,
    Layer,
    Lookup,
    Outcome,
    SourceStat,
    TmMatch,
    Transcript,
    check_movie_id,
    movie_id_from_path,
)
from engines import media
from engines.asr import AsrSettings, check_alignment_ready, is_multilingual
from engines.models import ModelNotFoundError, ResolvedModel, resolve_model
from engines.translate import FLORES_CODES, TranslationSettings, model_type
from optimizer import Candidate, Recommendation

from .settings import Settings

__all__ = [
    "WORKFLOWS",
    "JobError",
    "JobPlan",
    "JobRequest",
    "JobResult",
    "MemoryReport",
    "NeedsCompute",
    "SimilarReport",
    "StageReport",
    "prepare",
    "set_progress_listener",
]

Workflow = Literal["transcribe", "translate", "subtitle"]
WORKFLOWS: tuple[Workflow, ...] = ("transcribe", "translate", "subtitle")
CacheState = Literal["hit", "miss", "off"]


# The spec's per-layer switches, by layer.
# Settings that change a transcript: set by the user, they pin the job's ASR settings.
_ASR_SETTINGS = frozenset(
    {
        "whisper_model",
        "whisper_device",
        "whisper_compute_type",
        "whisper_batch_size",
        "whisper_beam_size",
        "whisper_best_of",
        "whisper_temperature",
        "whisper_vad_method",
        "whisper_vad_onset",
        "whisper_vad_offset",
        "asr_segment_seconds",
        "asr_denoise",
    }
)
_LAYER_SWITCHES = {
    Layer.FINGERPRINTS: "cache_audio_fingerprints",
    Layer.ASR: "cache_asr_results",
    Layer.TRANSLATIONS: "cache_translations",
}


class JobError(Exception):
    """A request that cannot run; the message is one line meant for the user."""


class NeedsCompute(Exception):  # noqa: N818 - a signal, not an error
    """Raised in cache-only mode by the first stage that would have to compute."""


ProgressListener = Callable[[str, float], None]
_progress: list[ProgressListener] = []


def set_progress_listener(listener: ProgressListener | None) -> None:
    """The CLI's progress bar listens here when the job runs in its process."""
    _progress.clear()
    if listener is not None:
        _progress.append(listener)


def report_progress(stage: str, percent: float) -> None:
    for listener in _progress:
        listener(stage, percent)


@dataclass(frozen=True)
class JobRequest:
    media: Path
    workflow: Workflow = "transcribe"
    source_language: str | None = None
    target_language: str | None = None
    model: str | None = None
    movie_id: str | None = None
    out: Path | None = None
    no_cache: bool = False
    reference: Path | None = None  # the spoken text: the job's WER goes into its history

    _PATHS = ("media", "out", "reference")

    def to_parameters(self) -> dict[str, Any]:
        """The request as flow parameters (JSON: paths as text)."""
        return {
            k: str(v) if k in self._PATHS and v is not None else v
            for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_parameters(cls, params: Mapping[str, Any]) -> JobRequest:
        """A request from flow parameters; parameters that are not the request's are ignored."""
        fields = {k: v for k, v in params.items() if k in cls.__dataclass_fields__}
        for k in cls._PATHS:
            if fields.get(k) is not None:
                fields[k] = Path(fields[k])
        return cls(**fields)


@dataclass(frozen=True)
class MemoryReport:
    """What the translation memory did for one job's segments."""

    segments: int
    context: int  # exact segment and context
    exact: int  # exact segment, similar context
    fuzzy: int  # similar segment, at or above the reuse bar
    translated: int  # sent to the model
    stored: int  # fresh translations kept (confident enough)
    reused_segments: tuple[int, ...] = ()  # indices of the segments served from memory

    @property
    def reused(self) -> int:
        return self.context + self.exact + self.fuzzy

    @property
    def hit_rate(self) -> float | None:
        return round(self.reused / self.segments, 4) if self.segments else None

    @classmethod
    def of(cls, matches: list[TmMatch | None], reuse: float, stored: int) -> MemoryReport:
        reused = tuple(i for i, m in enumerate(matches) if m is not None and m.score >= reuse)
        used = [m for m in (matches[i] for i in reused) if m is not None]
        return cls(
            reused_segments=reused,
            segments=len(matches),
            context=sum(m.level == "context" for m in used),
            exact=sum(m.level == "exact" for m in used),
            fuzzy=sum(m.level == "fuzzy" for m in used),
            translated=len(matches) - len(used),
            stored=stored,
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "reused": self.reused, "hit_rate": self.hit_rate}


@dataclass(frozen=True)
class SimilarReport:
    """The spec's similarity decision for a job: which stored cut, how alike, what it allows."""

    source: str
    source_file: str
    similarity: float
    shared_ratio: float
    speed: float  # old seconds per new second: 1.0427 for a PAL release of a film cut
    band: str
    reuses: str
    language: str | None = None  # reuse-language and up: the cut's language, not detected
    film: str | None = None  # reuse-config and up: this audio now uses that film's glossary
    suggested_glossary: str | None = None  # reuse-language: a film whose glossary may fit
    adopted_asr: str | None = None  # reuse-config and up: the cut's ASR settings, taken


@dataclass(frozen=True)
class StageReport:
    cache: CacheState
    seconds: float
    reason: str = ""
    saved_seconds: float = 0.0
    memory: MemoryReport | None = None
    reused_seconds: float = 0.0  # ASR: audio whose transcript came from a similar cut
    transcribed_seconds: float = 0.0  # ASR: audio transcribed fresh beside it
    source_job: str | None = None  # ASR: the audio hash of that cut
    resumed_seconds: float = 0.0  # ASR: audio a killed earlier run had already transcribed
    similar: SimilarReport | None = None  # ASR: the most similar stored cut and the band
    recommendation: Recommendation | None = None  # ASR: settings the optimizer chose

    @classmethod
    def of_memory(
        cls, memory: MemoryReport, started: float, off: str | None, saved: float = 0.0
    ) -> StageReport:
        seconds = round(time.perf_counter() - started, 3)
        if off:
            return cls("off", seconds, off, memory=memory)
        cache: CacheState = "hit" if memory.translated == 0 else "miss"
        reason = (
            f"translation memory: {memory.reused}/{memory.segments} segments reused "
            f"({memory.context} context, {memory.exact} exact, {memory.fuzzy} fuzzy)"
        )
        return cls(cache, seconds, reason, round(saved, 3), memory=memory)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> StageReport:
        memory, similar, advice = d.get("memory"), d.get("similar"), d.get("recommendation")
        if memory is not None:
            fields = {k: memory[k] for k in MemoryReport.__dataclass_fields__}
            memory = MemoryReport(**{**fields, "reused_segments": tuple(fields["reused_segments"])})
        if similar is not None:
            similar = SimilarReport(**similar)
        if advice is not None:
            advice = Recommendation(**{**advice, "candidate": Candidate(**advice["candidate"])})
        return cls(**{**d, "memory": memory, "similar": similar, "recommendation": advice})

    @classmethod
    def skipped(cls, started: float, reason: str) -> StageReport:
        """A stage whose work was not needed because everything downstream is cached."""
        return cls("hit", round(time.perf_counter() - started, 3), reason)

    @classmethod
    def of(cls, lookup: Lookup, started: float) -> StageReport:
        cache: CacheState = (
            "hit" if lookup.hit else "off" if lookup.outcome is Outcome.BYPASSED else "miss"
        )
        return cls(
            cache, round(time.perf_counter() - started, 3), lookup.reason, lookup.saved_seconds
        )


@dataclass(frozen=True)
class JobResult:
    job_id: str
    media: str
    workflow: str
    audio_hash: str
    source_language: str
    target_language: str | None
    model: str
    outputs: dict[str, str]
    source_outputs: dict[str, str]
    stages: dict[str, StageReport]
    wall_seconds: float
    orchestration: str = "prefect"
    estimate_seconds: float | None = None  # what the optimizer said before the job started
    wer: float | None = None  # against --reference, when given
    unshared: int = 0  # entries held on this host: the shared cache was unreachable

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["saved_seconds"] = round(sum(s.saved_seconds for s in self.stages.values()), 1)
        for name, stage in self.stages.items():
            if stage.memory is not None:
                out["stages"][name]["memory"] = stage.memory.to_json()
                out["translation_memory"] = stage.memory.to_json()
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> JobResult:
        fields = {k: v for k, v in d.items() if k not in ("saved_seconds", "translation_memory")}
        fields["stages"] = {k: StageReport.from_json(v) for k, v in d["stages"].items()}
        return cls(**fields)


def _check_language(code: str | None, known: set[str], what: str) -> None:
    if code is not None and code not in known:
        raise JobError(
            f"unknown {what} language code {code!r}: use an ISO 639-1 code such as hi, en, ta"
        )


@dataclass
class JobPlan:
    """Everything a job needs, resolved and validated before any stage runs."""

    request: JobRequest
    settings: Settings
    store: CacheManager
    asr: AsrSettings
    translation_model: ResolvedModel | None
    out_dir: Path
    source_stat: SourceStat
    cache_only: bool = False
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float = field(default_factory=time.perf_counter)
    _workdir: Path | None = None
    _wav: Path | None = None

    @property
    def media(self) -> Path:
        return self.request.media

    @property
    def translates(self) -> bool:
        return self.request.workflow != "transcribe"

    def film(self, audio_hash: str) -> str:
        """Whose glossary the job uses: ``--movie-id``; else the film this audio was recorded
        under (by its first job, or by a similar cut it was linked to); else a film id from the
        file name, which all releases of a film named alike share."""
        given = self.request.movie_id
        if given:
            return check_movie_id(given)
        link = self.store.cuts.get(audio_hash) if self.store.enabled else None
        return link.movie_id if link else movie_id_from_path(self.media)

    @property
    def asr_pinned(self) -> bool:
        """Whether the user chose ASR settings (a flag, or a setting they set); if not, a new
        cut may adopt those its similar cut was transcribed with."""
        chosen = _ASR_SETTINGS & self.settings.model_fields_set
        return bool(self.request.model or self.request.source_language or chosen)

    def asr_for(self, audio_hash: str) -> AsrSettings:
        """This audio's ASR settings: those its first job adopted from a similar cut (when
        the user pinned none and they still run here), else the job's own."""
        if self.asr_pinned or not self.store.enabled:
            return self.asr
        link = self.store.cuts.get(audio_hash)
        adopted = self.adopt(link.asr) if link is not None and link.asr is not None else None
        return adopted or self.asr

    def adopt(self, parts: Mapping[str, Any]) -> AsrSettings | None:
        """ASR settings rebuilt from a stored transcript's key parts, or None where this
        machine cannot reproduce them exactly (another model version, alignment or
        diarization model, or half precision on a CPU)."""
        catalog = self.settings.whisper_model_catalog
        try:
            model = resolve_model(
                "whisperx", str(parts["model"]), catalog, self.store.models_dir, "catalog"
            )
            candidate = dataclasses.replace(
                self.asr,
                model=model,
                language=parts["language"],
                compute_type=str(parts["compute_type"]),
                batch_size=int(parts["batch_size"]),
                beam_size=int(parts["beam_size"]),
                best_of=int(parts["best_of"]),
                temperature=float(parts["temperature"]),
                vad_method=str(parts["vad_method"]),
                vad_onset=float(parts["vad_onset"]),
                vad_offset=float(parts["vad_offset"]),
                segment_seconds=int(parts["segment_seconds"]),
                denoise=bool(parts["denoise"]),
            )
        except (ModelNotFoundError, KeyError, TypeError, ValueError):
            return None
        if candidate.key_parts() != dict(parts):
            return None
        if self.asr.device == "cpu" and "float16" in candidate.compute_type:
            return None
        return candidate

    @property
    def glossaries(self) -> GlossaryStore:
        return GlossaryStore(self.store.root / "glossary_learned")

    def glossary(self, film: str) -> Glossary:
        """The terms this job protects: the film's glossary over the global one."""
        per_movie = self.settings.glossary_per_movie_enabled
        return self.glossaries.for_job(film if per_movie else None)

    def memory_off(self) -> str | None:
        """Why the translation memory is not consulted, or None when it is."""
        if not self.settings.translation_memory_enabled:
            return "TRANSLATION_MEMORY_ENABLED=false"
        if not self.store.enabled:
            return self.store.bypass_reason
        if not self.layer_enabled(Layer.TRANSLATIONS):
            return "CACHE_TRANSLATIONS=false"
        return None

    def layer_enabled(self, layer: str) -> bool:
        return bool(getattr(self.settings, _LAYER_SWITCHES[layer]))

    def lookup(self, key: CacheKey) -> Lookup:
        if not self.layer_enabled(key.layer):
            switch = _LAYER_SWITCHES[key.layer].upper()
            return self.store.note(Lookup(key, Outcome.BYPASSED, reason=f"{switch}=false"))
        return self.store.get(key)

    def would_hit(self, key: CacheKey) -> bool:
        return self.layer_enabled(key.layer) and self.store.contains(key)

    def would_hit_asr(self) -> bool:
        """Whether the transcript for this exact source file is (probably) cached."""
        known = self.known_audio_hash()
        return known is not None and self.would_hit(self.asr_key(known))

    def known_audio_hash(self) -> str | None:
        """Stat fast path: the audio hash recorded for this exact file, reading none of it."""
        return self.store.audio_hash_for(self.source_stat)

    def must_compute(self, stage: str) -> None:
        if self.cache_only:
            raise NeedsCompute(stage)

    def asr_key(self, audio_hash: str) -> CacheKey:
        return CacheManager.asr_key(audio_hash, self.asr_for(audio_hash).key_parts())

    def translation_settings(self, source_language: str) -> TranslationSettings:
        assert self.translation_model is not None and self.request.target_language
        s = self.settings
        return TranslationSettings(
            model=self.translation_model,
            source_language=source_language,
            target_language=self.request.target_language,
            batch_size=s.translation_batch_size,
            max_length=s.translation_max_length,
            num_beams=s.translation_num_beams,
            device=self.asr.device,
        )

    def decoded_audio(self) -> Path:
        """Decode once per job, on first need, into a temp dir removed by ``close``."""
        if self._wav is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="cpwx-"))
            self._wav = media.demux(self.media, self._workdir / "audio.wav")
        return self._wav

    def close(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = self._wav = None

    def stem(self, language: str) -> str:
        return f"{self.media.stem}.{language}"

    def result(
        self,
        audio_hash: str,
        transcript: Transcript,
        outputs: dict[str, str],
        source_outputs: dict[str, str],
        stages: dict[str, StageReport],
        orchestration: str,
        estimate_seconds: float | None = None,
    ) -> JobResult:
        return JobResult(
            job_id=self.job_id,
            media=str(self.media),
            workflow=self.request.workflow,
            audio_hash=audio_hash,
            source_language=transcript.language,
            target_language=self.request.target_language,
            model=self.asr.model.name,
            outputs=outputs,
            source_outputs=source_outputs,
            stages=stages,
            wall_seconds=round(time.perf_counter() - self.started, 3),
            orchestration=orchestration,
            estimate_seconds=estimate_seconds,
        )


def prepare(request: JobRequest, settings: Settings) -> JobPlan:
    """Validate the request and resolve models before anything is decoded or stored."""
    from whisperx.utils import (
        LANGUAGES,
    )  # a plain dict module: whisperx's heavy parts stay unloaded

    if request.workflow not in WORKFLOWS:
        raise JobError(f"unknown workflow {request.workflow!r}: use one of {', '.join(WORKFLOWS)}")
    media.check_source(request.media)
    _check_language(request.source_language, set(LANGUAGES), "source")
    _check_language(request.target_language, set(LANGUAGES) | set(FLORES_CODES), "target")
    translates = request.workflow != "transcribe"
    if translates and not request.target_language:
        raise JobError(f"workflow {request.workflow!r} needs --target-language")
    if translates and not settings.translation_model:
        raise JobError(
            f"workflow {request.workflow!r} needs a translation model: set TRANSLATION_MODEL to "
            f"a local transformers folder (Marian, M2M100, NLLB, IndicTrans2) or a name under "
            f"{settings.cache_path / 'models' / 'translation'}"
        )
    if request.movie_id is not None:
        check_movie_id(request.movie_id)
    if request.reference is not None and not request.reference.is_file():
        raise JobError(f"{request.reference}: no such reference text file")
    store = CacheManager(
        settings.cache_path,
        ttl_days=settings.cache_ttl_days,
        enabled=settings.enable_caching and not request.no_cache,
        bypass_reason="--no-cache" if request.no_cache else "ENABLE_CACHING=false",
        tm=settings.tm_policy,
        shared=settings.shared_level(),
    )
    model = resolve_model(
        "whisperx",
        request.model or settings.whisper_model,
        settings.whisper_model_catalog,
        store.models_dir,
        "WHISPER_MODEL_CATALOG",
    )
    language = request.source_language
    if not is_multilingual(model.path):
        if language not in (None, "en"):
            raise JobError(
                f"model {model.name!r} is English-only and cannot transcribe {language!r}: "
                "choose a multilingual model with --model"
            )
        language = "en"

    def optional(kind: str, path: Path | None, variable: str) -> ResolvedModel | None:
        if path is None:
            return None
        return resolve_model(kind, str(path), {}, store.models_dir, variable)

    if settings.align_model_dir is not None:
        check_alignment_ready()
    device = settings.device
    asr = AsrSettings(
        model=model,
        language=language,
        device=device,
        compute_type=settings.compute_type_for(device),
        batch_size=settings.whisper_batch_size,
        beam_size=settings.whisper_beam_size,
        best_of=settings.whisper_best_of,
        temperature=settings.whisper_temperature,
        vad_method=settings.whisper_vad_method,
        vad_onset=settings.whisper_vad_onset,
        vad_offset=settings.whisper_vad_offset,
        threads=settings.threads,
        segment_seconds=settings.asr_segment_seconds,
        denoise=settings.asr_denoise,
        align_model=optional("alignment", settings.align_model_dir, "ALIGN_MODEL_DIR"),
        diarization_model=optional(
            "pyannote", settings.diarization_model_dir, "DIARIZATION_MODEL_DIR"
        ),
    )
    translation_model = (
        resolve_model(
            "translation", settings.translation_model, {}, store.models_dir, "TRANSLATION_MODEL"
        )
        if translates and settings.translation_model
        else None
    )
    if translation_model is not None:
        model_type(translation_model.path)  # an unusable folder fails now, not after ASR
    out_dir = (request.out or Path("out") / request.media.stem).expanduser().absolute()
    return JobPlan(
        request, settings, store, asr, translation_model, out_dir, SourceStat.of(request.media)
    )
