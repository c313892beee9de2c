"""Word timing: a start, an end and a score for every word of a transcript.

``word_aligner(asr)`` picks how. By default Whisper's own cross-attention, the alignment that
faster-whisper's ``word_timestamps=True`` computes, on the ASR model itself: every Whisper model
carries it, so nothing else has to be installed or downloaded. A wav2vec2 folder
(ALIGN_MODEL_DIR) takes over where one is given: WhisperX's forced alignment, as before.

Either way each word comes back with floats (a word that could not be timed gets times spread
over its segment and score 0.0), so the stages after this one never see a word without times.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from records import Segment, Transcript, Word

from .asr import AsrSettings, check_alignment_ready, faster_whisper_model, read_wav

__all__ = [
    "CrossAttentionAligner",
    "Wav2Vec2Aligner",
    "WordAligner",
    "word_aligner",
]

log = logging.getLogger("engines.align")

_RATE = 16000
_WINDOW = 30  # seconds: what Whisper's encoder sees at once
_HOP = 160  # samples per mel frame (100 a second)
_MAX_TOKENS = 440  # Whisper's decoder holds 448 positions, its start sequence included
# Languages whose words are not separated by spaces: their words are joined with "".
_NO_SPACES = frozenset({"zh", "ja", "th", "lo", "my", "yue"})
# faster-whisper's defaults: punctuation that belongs to the following / the preceding word
_PREPEND = "\"'“¿([{-"
_APPEND = "\"'.。,，!！?？:：”)]}、"  # noqa: RUF001
_SENTENCE_END = ".。!！?？"  # noqa: RUF001

KeyParts = dict[str, str | int | float | bool | None]


class WordAligner(Protocol):
    def key_parts(self) -> KeyParts:
        """What the word stage's cache key hashes: the aligner, its model's version and every
        setting that changes its output."""
        ...

    def align(
        self,
        wav: Path,
        transcript: Transcript,
        progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        """``transcript`` with every word of every segment timed and scored (16 kHz mono
        s16 ``wav``); ``progress`` gets 0..100."""
        ...


def word_aligner(asr: AsrSettings) -> WordAligner:
    """The wav2vec2 aligner where ``asr.align_model`` is set, else cross-attention on the ASR
    model itself."""
    if asr.align_model is not None:
        return Wav2Vec2Aligner(asr)
    return CrossAttentionAligner(asr)


# --- words as text ---------------------------------------------------------------------------


def _joiner(language: str) -> str:
    return "" if language in _NO_SPACES else " "


def _text_words(text: str, language: str) -> list[str]:
    """A segment's words as its text has them: split on spaces, or for the languages written
    without spaces one character each (any space before it kept, so ``"".join`` restores it)."""
    text = text.strip()
    if language in _NO_SPACES:
        return re.findall(r"\s*\S", text)
    return text.split()


def _spread(texts: Sequence[str], start: float, end: float) -> tuple[Word, ...]:
    """Words laid over [start, end] in proportion to their length, score 0.0: what a segment
    gets when it cannot be aligned, so that no word is left without times."""
    end = max(end, start)
    weights = [max(1, len(t.strip())) for t in texts]
    total = sum(weights) or 1
    words: list[Word] = []
    at = 0
    for text, weight in zip(texts, weights, strict=True):
        a = start + (end - start) * at / total
        at += weight
        b = start + (end - start) * at / total
        words.append(Word(text.strip() if not words else text, round(a, 3), round(b, 3), 0.0))
    return tuple(words)


def _fallback(segment: Segment, language: str) -> Segment:
    words = _text_words(segment.text, language)
    return replace(segment, words=_spread(words, segment.start, segment.end))


def _monotonic(words: Sequence[Word]) -> tuple[Word, ...]:
    """Starts never go back, ends never precede starts nor pass the next word's start."""
    out: list[Word] = []
    last = -math.inf
    for w in words:
        start = max(float(w.start or 0.0), last)
        out.append(replace(w, start=round(start, 3), end=round(max(float(w.end or 0.0), start), 3)))
        last = start
    for i in range(len(out) - 1):
        nxt = out[i + 1].start
        assert nxt is not None
        if out[i].end is not None and out[i].end > nxt:  # type: ignore[operator]
            out[i] = replace(out[i], end=nxt)
    return tuple(out)


def _with_words(segment: Segment, words: tuple[Word, ...]) -> Segment:
    """The segment with its words, its bounds tightened to them (a cue starts on its speech)."""
    if not words:
        return segment
    start, end = words[0].start, words[-1].end
    assert start is not None and end is not None
    return replace(segment, start=start, end=max(end, start), words=words)


# --- cross-attention -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Piece:
    """Text to align against one 30 s window of audio that starts at ``start``."""

    index: int  # the segment's
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class _Aligned:
    """A window's words (on the file's timeline) and which of its 10 ms frames are quiet."""

    words: list[Word]
    offset: float  # the window's start
    quiet: Any


@dataclass(frozen=True)
class CrossAttentionAligner:
    """Whisper's cross-attention heads, read by CTranslate2's ``Whisper.align`` (dynamic time
    warping over their attention), on the ASR model: the words' times come from the model that
    heard them, and cost one encoder pass per segment.

    Each segment is aligned in a window of its own audio (``lead`` seconds before it, ``tail``
    after), padded with silence to 30 s as Whisper was trained; ``batch_size`` windows go
    through the encoder at once. Whisper's word boundaries sit on a 20 ms grid, give the pause
    between two words to one of them and lag the sound (tiny.en by about 0.1 s): measured
    against known word positions (benchmarks/word_timing.py) that alone misses a 0.1 s median.
    So the starts are then moved onto onsets the signal shows (``_to_onsets``), ``onset``
    seconds back at most (0 turns it off), which brings the median under 0.1 s and, on words
    after a pause, the p90 under 0.25 s."""

    asr: AsrSettings
    median_filter: int = 7
    lead: float = 0.5
    tail: float = 0.5
    onset: float = 0.3
    quiet_share: float = 0.2
    min_pause: int = 5
    keep_cost: float = 0.15
    skip_pause: float = 0.15
    batch_size: int = 8

    def key_parts(self) -> KeyParts:
        return {
            "aligner": "whisper-cross-attention",
            "align_model": self.asr.model.version,
            "median_filter": self.median_filter,
            "window_lead": self.lead,
            "window_tail": self.tail,
            "onset_reach": self.onset,
            "quiet_share": self.quiet_share,
            "min_pause": self.min_pause,
            "keep_cost": self.keep_cost,
            "skip_pause": self.skip_pause,
        }

    def _model(self) -> Any:
        return faster_whisper_model(self.asr)

    def align(
        self,
        wav: Path,
        transcript: Transcript,
        progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        from faster_whisper.tokenizer import Tokenizer  # type: ignore[import-untyped]

        model = self._model()
        audio = read_wav(wav)
        duration = len(audio) / _RATE
        multilingual = bool(model.model.is_multilingual)
        language = transcript.language if multilingual else "en"
        if language not in model.supported_languages:
            language = "en"
        tokenizer = Tokenizer(
            model.hf_tokenizer, multilingual, task="transcribe", language=language
        )
        segments = list(transcript.segments)
        windows = {
            i: _Piece(i, max(0.0, s.start - self.lead), min(duration, s.end + self.tail), s.text)
            for i, s in enumerate(segments)
            if s.text.strip()
        }

        def done(count: int) -> None:
            if progress is not None:
                progress(round(100 * count / len(windows), 1))

        found = self._align_all(model, tokenizer, audio, language, list(windows.values()), done)
        for i, parts in found.items():
            words = [
                w
                for p in parts or ()
                for w in (
                    _to_onsets(p, self.onset, self.min_pause, self.keep_cost, self.skip_pause)
                    if self.onset
                    else p.words
                )
            ]
            if not words:
                log.info(
                    "segment at %.2f s could not be aligned: its words spread", segments[i].start
                )
                segments[i] = _fallback(segments[i], language)
            else:
                segments[i] = _with_words(segments[i], _monotonic(words))
        if progress is not None:
            progress(100.0)
        return replace(transcript, segments=tuple(segments))

    def _align_all(
        self,
        model: Any,
        tokenizer: Any,
        audio: Any,
        language: str,
        pieces: list[_Piece],
        done: Callable[[int], None],
    ) -> dict[int, list[_Aligned] | None]:
        """Each segment's aligned windows: those that fit one window in batches, then the
        longer ones window by window."""
        short = [p for p in pieces if p.end - p.start <= _WINDOW]
        found: dict[int, list[_Aligned] | None] = {}
        for at in range(0, len(short), self.batch_size):
            batch = short[at : at + self.batch_size]
            for piece, got in zip(batch, self._align(model, tokenizer, audio, batch), strict=True):
                found[piece.index] = None if got is None else [got]
            done(len(found))
        for p in pieces:
            if p.index not in found:
                found[p.index] = self._align_long(
                    model, tokenizer, audio, p.text, language, p.start, p.end
                )
                done(len(found))
        return found

    def _align_long(
        self,
        model: Any,
        tokenizer: Any,
        audio: Any,
        text: str,
        language: str,
        start: float,
        end: float,
    ) -> list[_Aligned] | None:
        """A segment longer than a window: align what is left of its text from where the last
        window's trusted words end. The text's words past a window's audio get squeezed into its
        last seconds, so each window keeps only the words that end 8 s before its end."""
        joiner = _joiner(language)
        left = text.strip() if joiner == "" else " ".join(text.split())
        out: list[_Aligned] = []
        while left:
            window_end = min(end, start + _WINDOW)
            (found,) = self._align(model, tokenizer, audio, [_Piece(0, start, window_end, left)])
            if found is None:
                return None
            keep = found.words
            if window_end < end:
                keep = [w for w in keep if (w.end or 0) <= window_end - 8.0] or keep[:1]
            out.append(replace(found, words=keep))
            left = left[len(joiner.join(w.word for w in keep)) :].strip()
            start = max(start + 1.0, float(keep[-1].end or start) - 0.2)
        return out

    def _align(
        self, model: Any, tokenizer: Any, audio: Any, pieces: Sequence[_Piece]
    ) -> list[_Aligned | None]:
        """Each piece's words on the file's timeline, or None where it has nothing to align."""
        import numpy as np
        from faster_whisper.transcribe import merge_punctuations  # type: ignore[import-untyped]

        out: list[_Aligned | None] = [None] * len(pieces)
        features, tokens, frames, ready = [], [], [], []
        for n, piece in enumerate(pieces):
            clip = audio[int(piece.start * _RATE) : int(piece.end * _RATE)]
            text = tokenizer.encode(" " + piece.text.strip())
            if len(clip) < _HOP or not text or len(text) > _MAX_TOKENS:
                continue
            window = np.zeros(_WINDOW * _RATE, dtype=np.float32)
            window[: len(clip)] = clip
            features.append(model.feature_extractor(window)[:, : _WINDOW * _RATE // _HOP])
            tokens.append(text)
            frames.append(math.ceil(len(clip) / _HOP))
            ready.append(n)
        if not ready:
            return out
        encoded = model.encode(np.ascontiguousarray(np.stack(features)))
        alignments = model.find_alignment(
            tokenizer, tokens, encoded, frames, median_filter_width=self.median_filter
        )
        for k, (n, alignment) in enumerate(zip(ready, alignments, strict=True)):
            if not alignment:
                continue
            _truncate_at_sentences(alignment)
            merge_punctuations(alignment, _PREPEND, _APPEND)
            words = _words(alignment, pieces[n].start, tokenizer.language_code)
            if words:
                quiet = _quiet(_band_energy(model, features[k], frames[k]), self.quiet_share)
                out[n] = _Aligned(words, pieces[n].start, quiet)
        return out


def _truncate_at_sentences(alignment: list[dict[str, Any]]) -> None:
    """faster-whisper's heuristic: a word on either side of a sentence end that lasts over
    twice the median word (at most 1.4 s) has swallowed the pause there; cut it short."""
    import numpy as np

    durations = np.array([w["end"] - w["start"] for w in alignment])
    durations = durations[durations.nonzero()]
    if not len(durations):
        return
    longest = 2 * min(0.7, float(np.median(durations)))
    for i in range(1, len(alignment)):
        word, before = alignment[i], alignment[i - 1]
        if word["end"] - word["start"] > longest:
            if word["word"] in _SENTENCE_END:
                word["end"] = word["start"] + longest
            elif before["word"] in _SENTENCE_END:
                word["start"] = word["end"] - longest


def _words(alignment: list[dict[str, Any]], offset: float, language: str) -> list[Word]:
    """Whisper's word pieces as our words: each one starts at a space (for languages with
    spaces), so the words rejoin to the segment's text; its score is its tokens' mean
    probability."""
    groups: list[list[dict[str, Any]]] = []
    for piece in alignment:
        if not piece["word"]:
            continue  # emptied into a neighbour by merge_punctuations
        starts = language in _NO_SPACES or piece["word"][:1].isspace()
        if starts or not groups:
            groups.append([piece])
        else:
            groups[-1].append(piece)
    words: list[Word] = []
    for group in groups:
        text = "".join(p["word"] for p in group)
        text = text.strip() if language not in _NO_SPACES or not words else text
        weights = [max(1, len(p["tokens"])) for p in group]
        score = sum(float(p["probability"]) * k for p, k in zip(group, weights, strict=True))
        words.append(
            Word(
                word=text,
                start=round(offset + float(group[0]["start"]), 3),
                end=round(offset + float(max(p["end"] for p in group)), 3),
                score=round(score / sum(weights), 4),
            )
        )
    return words


# --- signal evidence -------------------------------------------------------------------------

_FRAME = 0.01  # seconds per mel frame
_LOW_HZ = 150  # bands under this carry hum, not speech


def _band_energy(model: Any, features: Any, frames: int) -> Any:
    """Speech-band energy (dB) of each 10 ms frame, from the log-mel features the encoder got
    anyway (log10 power scaled as (x + 4) / 4)."""
    import numpy as np

    extractor = model.feature_extractor
    centres = extractor.mel_filters.argmax(axis=1) * extractor.sampling_rate / extractor.n_fft
    band = features[centres >= _LOW_HZ, :frames].astype(np.float64)
    return 10 * np.log10(np.sum(10 ** (4 * band - 4), axis=0) + 1e-12)


def _quiet(energy: Any, share: float) -> Any:
    """Frames nearer the floor (10th percentile) than ``share`` of the way to the speech level
    (95th); none where the two are under 10 dB apart (music, noise: no pauses to find)."""
    import numpy as np

    floor, loud = np.percentile(energy, [10, 95])
    if loud - floor < 10:
        return np.zeros(len(energy), dtype=bool)
    return energy < floor + share * (loud - floor)


def _runs(quiet: Any) -> tuple[Any, Any]:
    """Onset and length (frames) of each run of loud frames."""
    import numpy as np

    loud = np.concatenate([[False], ~quiet, [False]]).astype(np.int8)
    edges = np.diff(loud)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return starts, ends


def _onsets(quiet: Any, min_pause: int) -> Any:
    """Frames where a run of at least 3 loud frames (30 ms) follows ``min_pause`` quiet frames or
    more: where a word can begin after a pause. Shorter loud runs (clicks, a weak consonant's
    flicker) count as quiet."""
    import numpy as np

    starts, ends = _runs(quiet)
    quiet = quiet.copy()
    for a, b in zip(starts, ends, strict=True):
        if b - a < 3:
            quiet[a:b] = True
    starts, ends = _runs(quiet)
    gaps = starts - np.concatenate([[0], ends[:-1]])
    return starts[(starts > 0) & (gaps >= min_pause)]


def _to_onsets(
    part: _Aligned,
    reach: float,
    min_pause: int = 5,
    keep_cost: float = 0.1,
    skip_pause: float = 0.15,
) -> list[Word]:
    """Word starts moved onto onsets (sound after a pause), on the evidence of the signal.

    Whisper's alignment gives the pause between two words to one of them and lags or leads the
    sound. Each word may take one onset, in order, none taken twice: one within ``reach``
    seconds costs the distance; one later in the word's span costs a tenth of that (at most of
    ``reach``) plus the sound passed over, where the word would start in a pause or the onset
    ends a pause of ``skip_pause`` seconds or more (the word's start then lies in the last
    sound of the word before: no word starts in a pause); keeping the aligned start costs
    ``keep_cost``. The cheapest assignment of the window's words wins (dynamic programming over
    words x free onsets). A word's end comes back out of a pause to where its sound ends."""

    words, quiet, offset = part.words, part.quiet, part.offset
    n = len(quiet)
    onsets = _onsets(quiet, min_pause)

    def frame(t: float) -> int:
        return min(n - 1, max(0, round((t - offset) / _FRAME)))

    spans = [(frame(w.start or 0.0), frame(w.end or 0.0)) for w in words]
    taken = _assign(spans, onsets, quiet, reach / _FRAME, keep_cost / _FRAME, skip_pause / _FRAME)
    out: list[Word] = []
    for w, (s, e), k in zip(words, spans, taken, strict=True):
        first = s if k < 0 else int(onsets[k])
        last = e
        while last > first + 1 and quiet[last - 1]:
            last -= 1
        start = round(offset + first * _FRAME, 3)
        out.append(replace(w, start=start, end=round(max(offset + last * _FRAME, start), 3)))
    return out


def _pauses(quiet: Any, onsets: Any) -> Any:
    """The quiet frames right before each onset."""
    import numpy as np

    out = np.zeros(len(onsets), dtype=np.int64)
    for j, o in enumerate(onsets):
        k = int(o)
        while k > 0 and quiet[k - 1]:
            k -= 1
        out[j] = int(o) - k
    return out


def _assign(
    spans: list[tuple[int, int]],
    onsets: Any,
    quiet: Any,
    near: float,
    keep: float,
    skip: float,
) -> list[int]:
    """The onset each word takes (-1: none), in frames: the cheapest in-order assignment (see
    ``_to_onsets``), by dynamic programming over words x first free onset."""
    import numpy as np

    sound = np.concatenate([[0], np.cumsum(~quiet)])  # loud frames before each frame
    pause = _pauses(quiet, onsets)
    choices: list[list[tuple[int, float]]] = []
    for s, e in spans:
        lo = int(np.searchsorted(onsets, s - near, side="left"))
        hi = int(np.searchsorted(onsets, max(s + near, e), side="right"))
        options = []
        for j in range(lo, hi):
            d = float(onsets[j] - s)
            # Forward to an onset: cheap from a pause, or past sound that a long pause ends
            # (the last of the word before: Whisper gives a word the pause before it); the cost
            # is a tenth of the way and the sound passed over.
            skipped = float(sound[onsets[j]] - sound[s])
            if d < 0:
                cost = -d
            elif quiet[s] or pause[j] >= skip:
                cost = 0.1 * min(d, near) + skipped
            else:
                cost = d if d <= near else math.inf
            options.append((j, cost))
        choices.append(options)
    # memo[i, j]: the cheapest cost of words i.. with onsets j.. free, and word i's onset
    memo: dict[tuple[int, int], tuple[float, int]] = {}
    for i in range(len(spans) - 1, -1, -1):
        for j in range(len(onsets), -1, -1):
            behind = max(0, int(onsets[j - 1]) - spans[i][0]) if j else 0
            best = (keep + behind + memo.get((i + 1, j), (0.0, -1))[0], -1)
            for k, c in choices[i]:
                total = c + memo.get((i + 1, k + 1), (0.0, -1))[0] if k >= j else math.inf
                if total < best[0]:
                    best = (total, k)
            memo[(i, j)] = best
    taken, j = [], 0
    for i in range(len(spans)):
        k = memo[(i, j)][1]
        taken.append(k)
        j = k + 1 if k >= 0 else j
    return taken


# --- wav2vec2 --------------------------------------------------------------------------------


_load_lock = threading.Lock()  # two stages in threads must not load a model twice


@lru_cache(maxsize=2)
def _wav2vec2(path: str, language: str, device: str) -> tuple[Any, Any]:
    """One loaded alignment model per process, language and device."""
    import whisperx

    model, metadata = whisperx.load_align_model(language, device, model_name=path)
    return model, metadata


@dataclass(frozen=True)
class Wav2Vec2Aligner:
    """WhisperX's forced alignment on a local wav2vec2 folder (ALIGN_MODEL_DIR): character
    emissions matched to the text, one segment at a time so each keeps its own words (WhisperX
    would split segments into sentences). Words it cannot time (digits, symbols: characters
    the model has no letter for) get times between their neighbours' and score 0.0."""

    asr: AsrSettings

    def key_parts(self) -> KeyParts:
        assert self.asr.align_model is not None
        return {"aligner": "wav2vec2", "align_model": self.asr.align_model.version}

    def align(
        self,
        wav: Path,
        transcript: Transcript,
        progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        import whisperx

        assert self.asr.align_model is not None
        check_alignment_ready()
        language = transcript.language or "en"
        with _load_lock:
            model, metadata = _wav2vec2(str(self.asr.align_model.path), language, self.asr.device)
        audio = read_wav(wav)
        segments = list(transcript.segments)
        todo = [i for i, s in enumerate(segments) if s.text.strip()]
        for n, i in enumerate(todo, 1):
            s = segments[i]
            raw = {"start": s.start, "end": s.end, "text": s.text.strip()}
            aligned = whisperx.align([raw], model, metadata, audio, self.asr.device)
            found = [w for part in aligned["segments"] for w in part.get("words", ())]
            segments[i] = _timed(s, found, language)
            if progress is not None:
                progress(round(100 * n / len(todo), 1))
        if progress is not None:
            progress(100.0)
        return replace(transcript, segments=tuple(segments))


def _timed(segment: Segment, found: Sequence[dict[str, Any]], language: str) -> Segment:
    """WhisperX's words for ``segment`` as ours: the segment's own words (so the text rejoins),
    the times and scores WhisperX found for them, the rest interpolated with score 0.0."""
    texts = _text_words(segment.text, language)
    if len(found) != len(texts) or not any(w.get("start") is not None for w in found):
        return _fallback(segment, language)
    starts = [_float(w.get("start")) for w in found]
    ends = [_float(w.get("end")) for w in found]
    known = [k for k, t in enumerate(starts) if t is not None]
    words: list[Word] = []
    for k, text in enumerate(texts):
        start, end, score = starts[k], ends[k], _float(found[k].get("score"))
        if start is None:
            before = max((j for j in known if j < k), default=None)
            after = min((j for j in known if j > k), default=None)
            lo = ends[before] if before is not None else segment.start
            hi = starts[after] if after is not None else segment.end
            lo = lo if lo is not None else segment.start
            hi = hi if hi is not None else segment.end
            # the untimed run between two timed words shares the gap between them
            run_lo = (before + 1) if before is not None else 0
            run_hi = after if after is not None else len(texts)
            share = (max(hi, lo) - lo) / (run_hi - run_lo)
            start = lo + share * (k - run_lo)
            end = start + share
            score = 0.0
        elif end is None:
            end = start
        words.append(Word(text, round(start, 3), round(max(end, start), 3), score or 0.0))
    return _with_words(segment, _monotonic(words))


def _float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number
