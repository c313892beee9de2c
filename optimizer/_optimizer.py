"""The spec's ``MLOptimizer``: XGBoost models of job time and ASR confidence, from job history.

Time is learned per stage as log(seconds per audio second), so a job twice as long is
predicted to take twice as long whatever the trees saw; confidence is learned directly. Both
are cross-validated at training: the time model's trust is 1 - its held-out MAPE (against the
naive baseline, the median seconds per audio second), and a recommendation's confidence is the
chance, from the held-out residual spread, that it meets the quality target.

Models are XGBoost's own JSON files (never pickles) in a numbered folder with a manifest of
their checksums; ``current.json`` names the live version. A damaged or missing file raises
``OptimizerError``; callers fall back to the defaults.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import shutil
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from cache_store import PayloadError, read_verified, write_verified
from records import JobFeatures, JobRecord

from ._features import COLUMNS, computed_seconds, matrix, similar_jobs, with_history

__all__ = [
    "Candidate",
    "MLOptimizer",
    "OptimizerError",
    "OptimizerPolicy",
    "Prediction",
    "Recommendation",
    "TrainReport",
]

_PARAMS = {"n_estimators": 120, "max_depth": 4, "learning_rate": 0.1, "subsample": 0.9}
_FOLDS = 5
_TIME_TOLERANCE = 1.05  # predicted times this close are a tie
_BASELINE = "baseline.json"  # the naive baseline, kept until the first training


class OptimizerError(Exception):
    """The optimizer's model files are missing, damaged or from another version."""


@dataclass(frozen=True)
class OptimizerPolicy:
    min_samples: int = 10  # ML_MIN_SAMPLES_FOR_PREDICTION
    confidence_threshold: float = 0.80  # ML_CONFIDENCE_THRESHOLD
    quality_target: float = 0.65  # ML_QUALITY_TARGET (ours): mean ASR confidence to reach


@dataclass(frozen=True)
class Prediction:
    seconds: float | None  # the whole job, wall clock; None: nothing to go on yet
    stage_seconds: Mapping[str, float]
    expected_confidence: float | None
    confidence: float  # trust in ``seconds``: 1 - the held-out error of its source
    samples: int
    source: Literal["model", "baseline", "none"]

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "stage_seconds": dict(self.stage_seconds)}


@dataclass(frozen=True)
class Candidate:
    """ASR settings a recommendation may choose between."""

    model: str
    model_cost: float
    beam_size: int
    batch_size: int
    denoise: bool


@dataclass(frozen=True)
class Recommendation:
    candidate: Candidate
    expected_asr_seconds: float
    expected_confidence: float
    confidence: float  # the chance it meets the quality target
    reason: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TrainReport:
    version: int
    samples: int
    stages: tuple[str, ...]
    time_mape: float  # held-out, cross-validated, compute seconds of a job
    baseline_mape: float  # the same for the naive median-speed baseline
    confidence_spearman: float | None
    model_bytes: int
    trained_at: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class _Models:
    manifest: dict[str, Any]
    time: dict[str, Any] = field(default_factory=dict)  # stage: XGBRegressor
    quality: Any | None = None


def _regressor() -> Any:
    import xgboost

    return xgboost.XGBRegressor(**_PARAMS, n_jobs=1, random_state=0)


def _rate(r: JobRecord, stage_name: str) -> float | None:
    """Seconds per second of the audio it computed over that a record spent on a stage, or
    None if it did not compute it."""
    seconds = r.outcome.stage_seconds.get(stage_name)
    audio = computed_seconds(stage_name, r.features)
    if seconds is None or audio <= 0:
        return None
    if stage_name == "asr" and r.outcome.asr_cached:
        return None
    return max(seconds, 1e-3) / audio


def _cached(r: JobRecord) -> frozenset[str]:
    return frozenset({"asr"}) if r.outcome.asr_cached else frozenset()


def _naive(records: Sequence[JobRecord]) -> dict[str, Any]:
    """The naive baseline: per stage the median seconds per computed audio second, and the
    median seconds a job spends outside its stages (starting up, handing over)."""
    stages = dict.fromkeys(name for r in records for name in r.outcome.stage_seconds)
    rates = {name: [q for r in records if (q := _rate(r, name))] for name in stages}
    overheads = [r.outcome.wall_seconds - sum(r.outcome.stage_seconds.values()) for r in records]
    return {
        "baseline": {name: float(np.median(q)) for name, q in rates.items() if q},
        "overhead": float(np.median(overheads)) if overheads else 0.0,
    }


def _spearman(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return 0.0
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def _folds(n: int) -> list[npt.NDArray[np.int64]]:
    order = np.random.default_rng(0).permutation(n)
    return [order[i::_FOLDS] for i in range(min(_FOLDS, n))]


class MLOptimizer:
    def __init__(self, folder: Path, policy: OptimizerPolicy | None = None) -> None:
        self.folder = Path(folder)
        self.policy = policy or OptimizerPolicy()
        self._loaded: _Models | None = None

    # --- training --------------------------------------------------------------------------
    def train(self, history: Sequence[JobRecord]) -> TrainReport:
        records = [r for r in history if r.features.duration_seconds > 0]
        if len(records) < 3:
            raise OptimizerError(f"too little history to learn from ({len(records)} jobs)")
        mape, base_mape = self._cross_validate_time(records)
        spearman, spread = self._cross_validate_quality(records)
        models = self._fit(records)
        version = self._next_version()
        folder = self.folder / f"v{version}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        files = {}
        for name, model in [*models.time.items(), ("quality", models.quality)]:
            if model is not None:
                path = folder / f"{name}.json"
                model.save_model(path)
                files[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        report = TrainReport(
            version=version,
            samples=len(records),
            stages=tuple(models.time),
            time_mape=round(mape, 4),
            baseline_mape=round(base_mape, 4),
            confidence_spearman=None if spearman is None else round(spearman, 4),
            model_bytes=sum((folder / f).stat().st_size for f in files),
            trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        manifest = {
            **models.manifest,
            "version": version,
            "columns": list(COLUMNS),
            "files": files,
            "quality_spread": spread,
            "similar": similar_jobs(records),
            "report": report.to_json(),
        }
        write_verified(folder / "manifest.json", manifest)
        write_verified(self.folder / "current.json", {"version": version})
        self._loaded = None
        return report

    def _fit(self, records: Sequence[JobRecord]) -> _Models:
        x = matrix([r.features for r in records])
        models = _Models(manifest={**_naive(records), "samples": len(records)})
        # A model per stage the history reports, in the order jobs ran them.
        for name in models.manifest["baseline"]:
            rows = [(i, rate) for i, r in enumerate(records) if (rate := _rate(r, name))]
            if len(rows) >= 3:
                idx, rates = np.array([i for i, _ in rows]), np.array([q for _, q in rows])
                model = _regressor()
                model.fit(x[idx], np.log(rates))
                models.time[name] = model
        quality = [(i, r.outcome.asr_confidence) for i, r in enumerate(records) if _scored(r)]
        if len(quality) >= 3:
            model = _regressor()
            model.fit(x[[i for i, _ in quality]], np.array([c for _, c in quality]))
            models.quality = model
        return models

    def _cross_validate_time(self, records: Sequence[JobRecord]) -> tuple[float, float]:
        """Held-out MAPE of a job's compute seconds: learned, and the naive baseline."""
        errors: list[float] = []
        base_errors: list[float] = []
        for held in _folds(len(records)):
            train = [r for i, r in enumerate(records) if i not in set(held)]
            fitted = _Models(manifest={})
            fitted = self._fit(train) if len(train) >= 3 else fitted
            for i in held:
                r = records[i]
                actual = _compute_seconds(r)
                if actual <= 0:
                    continue
                learned = sum(_stage_estimates(fitted, r.features, _cached(r)).values())
                naive = sum(_baseline(fitted.manifest, r.features, _cached(r)).values())
                errors.append(abs(learned - actual) / actual)
                base_errors.append(abs(naive - actual) / actual)
        return (
            float(np.mean(errors)) if errors else 1.0,
            float(np.mean(base_errors)) if base_errors else 1.0,
        )

    def _cross_validate_quality(self, records: Sequence[JobRecord]) -> tuple[float | None, float]:
        """Held-out Spearman of predicted vs actual confidence, and the residual spread."""
        scored = [r for r in records if _scored(r)]
        if len(scored) < 6:
            return None, 1.0
        predicted, actual = [], []
        for held in _folds(len(scored)):
            train = [r for i, r in enumerate(scored) if i not in set(held)]
            model = _regressor()
            model.fit(
                matrix([r.features for r in train]),
                np.array([r.outcome.asr_confidence for r in train]),
            )
            predicted += list(model.predict(matrix([scored[i].features for i in held])))
            actual += [scored[i].outcome.asr_confidence or 0.0 for i in held]
        p, a = np.array(predicted, dtype=np.float64), np.array(actual, dtype=np.float64)
        return _spearman(p, a), float(np.std(a - p)) or 1e-3

    # --- files -----------------------------------------------------------------------------
    def _next_version(self) -> int:
        found = [int(p.name[1:]) for p in self.folder.glob("v*") if p.name[1:].isdigit()]
        return max(found, default=0) + 1

    def load(self) -> _Models | None:
        """The live models; None before the first training. OptimizerError when damaged."""
        if self._loaded is not None:
            return self._loaded
        try:
            pointer, _ = read_verified(self.folder / "current.json")
        except FileNotFoundError:
            return None
        except PayloadError as exc:
            raise OptimizerError(
                f"optimizer pointer {self.folder / 'current.json'}: {exc}"
            ) from exc
        folder = self.folder / f"v{pointer.get('version')}"
        try:
            manifest, _ = read_verified(folder / "manifest.json")
            if manifest.get("columns") != list(COLUMNS):
                raise OptimizerError(f"{folder}: trained on other features; retrain")
            models = _Models(manifest=manifest)
            for name, digest in manifest["files"].items():
                path = folder / name
                if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                    raise OptimizerError(f"{path}: checksum mismatch (damaged); retrain")
                model = _regressor()
                model.load_model(path)
                if name == "quality.json":
                    models.quality = model
                else:
                    models.time[name.removesuffix(".json")] = model
        except (OSError, PayloadError, KeyError, ValueError) as exc:
            raise OptimizerError(f"optimizer model {folder}: {exc}; retrain") from exc
        self._loaded = models
        return models

    def with_history(self, features: JobFeatures) -> JobFeatures:
        """The spec's history features, from the jobs the live models were trained on."""
        models = self.load()
        return features if models is None else with_history(features, models.manifest["similar"])

    def status(self) -> dict[str, Any]:
        models = self.load()
        if models is None:
            return {"trained": False, "folder": str(self.folder)}
        return {"trained": True, "folder": str(self.folder), **models.manifest["report"]}

    # --- predicting ------------------------------------------------------------------------
    def _untrained(self, f: JobFeatures, cached: Collection[str]) -> Prediction:
        try:
            naive, _ = read_verified(self.folder / _BASELINE)
        except (FileNotFoundError, PayloadError):
            naive = {}  # none yet, or damaged: the next job writes it again
        if not naive.get("baseline"):
            return Prediction(None, {}, None, 0.0, int(naive.get("samples", 0)), "none")
        stages = _baseline(naive, f, cached)
        return Prediction(
            round(sum(stages.values()) + float(naive["overhead"]), 2),
            {k: round(v, 3) for k, v in stages.items()},
            None,
            0.0,  # nothing held out yet to say how far to trust it
            int(naive["samples"]),
            "baseline",
        )

    def keep_baseline(self, history: Sequence[JobRecord]) -> None:
        """Before the first training: the naive baseline of the jobs so far, so that the next
        job has an estimate from a single past job on (read without opening the index)."""
        records = [r for r in history if r.features.duration_seconds > 0]
        write_verified(self.folder / _BASELINE, {**_naive(records), "samples": len(records)})

    def predict(self, features: JobFeatures, cached: Collection[str] = ()) -> Prediction:
        """The job's time (and ASR confidence): the models' when they are trusted, have enough
        samples and beat the naive baseline on held-out jobs; else that baseline; before any
        training, the baseline ``keep_baseline`` kept; else nothing. ``cached``: the stages
        the store will serve (they cost nothing)."""
        models = self.load()
        if models is None:
            return self._untrained(features, cached)
        report = models.manifest["report"]
        samples, trust = int(report["samples"]), max(0.0, 1.0 - float(report["time_mape"]))
        better = float(report["time_mape"]) <= float(report["baseline_mape"])
        learned = samples >= self.policy.min_samples and trust >= self.policy.confidence_threshold
        learned = learned and better
        stages = (
            _stage_estimates(models, features, cached)
            if learned
            else _baseline(models.manifest, features, cached)
        )
        enough = samples >= self.policy.min_samples
        quality = _expected_confidence(models, features) if enough else None
        seconds = sum(stages.values()) + float(models.manifest["overhead"])
        base_trust = max(0.0, 1.0 - float(report["baseline_mape"]))
        return Prediction(
            round(seconds, 2),
            {k: round(v, 3) for k, v in stages.items()},
            quality,
            round(trust if learned else base_trust, 3),
            samples,
            "model" if learned else "baseline",
        )

    def recommend(
        self, features: JobFeatures, candidates: Sequence[Candidate]
    ) -> Recommendation | None:
        """The cheapest candidate predicted to reach the quality target, when the models are
        trusted and it reaches the target with at least ML_CONFIDENCE_THRESHOLD chance."""
        models = self.load()
        if models is None or models.quality is None or not candidates:
            return None
        report = models.manifest["report"]
        if int(report["samples"]) < self.policy.min_samples:
            return None
        target, spread = self.policy.quality_target, float(models.manifest["quality_spread"])
        options = []
        for c in candidates:
            f = dataclasses.replace(
                features,
                model=c.model,
                model_cost=c.model_cost,
                beam_size=c.beam_size,
                batch_size=c.batch_size,
                denoise=c.denoise,
            )
            expected = _expected_confidence(models, f) or 0.0
            chance = 0.5 * (1 + math.erf((expected - target) / (spread * math.sqrt(2))))
            seconds = _stage_estimates(models, f).get("asr", 0.0)
            options.append((c, seconds, expected, chance))
        meeting = [o for o in options if o[3] >= self.policy.confidence_threshold]
        if not meeting:
            return None
        # Within timing noise of the cheapest, the likeliest to sound right.
        cheapest = min(o[1] for o in meeting)
        best = max((o for o in meeting if o[1] <= cheapest * _TIME_TOLERANCE), key=lambda o: o[2])
        c, seconds, expected, chance = best
        return Recommendation(
            c,
            round(seconds, 2),
            round(expected, 4),
            round(chance, 3),
            f"cheapest of {len(options)} settings expected to reach confidence {target:.2f} "
            f"({chance:.0%} chance, learned from {report['samples']} jobs)",
        )


def _scored(r: JobRecord) -> bool:
    return r.outcome.asr_confidence is not None and not r.outcome.asr_cached


def _compute_seconds(r: JobRecord) -> float:
    stages = r.outcome.stage_seconds
    return sum(v for k, v in stages.items() if not (k == "asr" and r.outcome.asr_cached))


def _baseline(
    manifest: Mapping[str, Any], f: JobFeatures, cached: Collection[str]
) -> dict[str, float]:
    rates: Mapping[str, float] = manifest.get("baseline", {})
    return {
        name: rate * computed_seconds(name, f) for name, rate in rates.items() if name not in cached
    }


def _stage_estimates(
    models: _Models, f: JobFeatures, cached: Collection[str] = ()
) -> dict[str, float]:
    out = _baseline(models.manifest, f, cached)
    x = matrix([f])
    for name, model in models.time.items():
        if name in out:
            out[name] = float(np.exp(model.predict(x)[0])) * computed_seconds(name, f)
    return out


def _expected_confidence(models: _Models, f: JobFeatures) -> float | None:
    if models.quality is None:
        return None
    return round(float(np.clip(models.quality.predict(matrix([f]))[0], 0.0, 1.0)), 4)
