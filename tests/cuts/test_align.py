"""Aligning two cuts of a film by raw Chromaprint: synthetic items, then real audio.

The real-audio tests build a ~2.8 minute "film" of 12 espeak-ng scenes over ffmpeg pink noise,
cut it as re-releases are cut (re-encoded, scenes removed, inserted, reordered, trimmed, sped
up to PAL, noisier) and check the shared spans against where every piece came from.

How a cut is scored is said in ``tests/cuts.py``, which the cuts benchmark shares.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from cuts import ITEM_SECONDS, Alignment, Span, align, best_alignment, subhashes
from testkit import (
    PAL,
    SR,
    Pcm,
    chromaprint_at,
    decode_pcm,
    ffmpeg,
    flip_bits,
    read_pcm,
    score,
    speak,
    with_noise,
    write_pcm,
)

SPEEDS = (1.0, PAL, 1 / PAL)
GAP = 0.6  # seconds of background between scenes

SCENES = (
    "The morning train leaves the station at seven, carrying farmers and their baskets of "
    "vegetables toward the crowded market. The guard blows his whistle twice and waves a "
    "flag. Two boys jump onto the last carriage.",
    "Inside the old library a young woman searches for a letter that her grandfather hid "
    "between the pages of a forgotten atlas. Dust rises every time she opens another volume. "
    "At last a yellow envelope slides out.",
    "Rain falls on the tin roofs all night, and the dogs of the village bark at every shadow "
    "that moves across the empty square. Nobody sleeps until the storm has passed. In the "
    "morning the well is full again.",
    "The captain studies the map by lamplight, tracing the coastline with his finger and "
    "counting the days until the monsoon arrives. His first mate brings him bitter coffee. "
    "Neither of them mentions the missing boat.",
    "Two brothers argue about the price of the family field while their mother quietly "
    "prepares tea in the smoky kitchen. Neither of them will give up his share of the land. "
    "Their sister listens from the doorway.",
    "At the wedding the musicians play until midnight, and the guests dance in a wide circle "
    "under strings of yellow lights. The bride's uncle sings a song from his own youth. "
    "Everyone knows the words of the chorus.",
    "A doctor on a bicycle rides from house to house, carrying medicine in a leather bag and "
    "asking each family about the fever. By evening his tyres are covered in red mud. He "
    "eats his supper standing at the gate.",
    "The headmaster announces that the school will close for a week because the bridge over "
    "the river has been washed away. The children cheer and run out into the fields. Only "
    "the youngest girl looks worried.",
    "In the crowded cinema hall the audience cheers loudly when the hero finally jumps from "
    "the burning train onto his horse. Somebody in the back row throws a handful of coins. "
    "The projectionist laughs in his little room.",
    "An old fisherman mends his nets on the beach, telling the curious children about the "
    "great storm of his youth. He claims the waves were taller than the temple tower. The "
    "children do not believe a word of it.",
    "The police inspector lights another cigarette and reads the witness statements again, "
    "certain that someone is lying to him. The clock on the wall has stopped at four. He "
    "decides to visit the widow once more.",
    "At dawn the whole family climbs the hill to the temple, carrying flowers, coconuts and "
    "a small brass lamp for the prayer. The priest is already waiting at the gate. Far "
    "below, the river shines like silver.",
)
INSERTS = (
    "This scene was added for the director's cut: a long conversation between the twins "
    "about their plans to leave the country, and the money they have saved for the journey.",
    "A new ending shows the stranger walking alone along the railway line as the sun sets "
    "slowly behind the distant blue mountains. A goods train passes him without stopping.",
)
OTHER = (
    "Welcome to the weekly cooking programme, where today we prepare a simple lentil soup "
    "with garlic, cumin and fresh coriander. It takes less than an hour from start to finish.",
    "First wash the lentils carefully in cold water, then let them soak for about twenty "
    "minutes while you chop the onions finely and peel four cloves of garlic.",
    "Heat two spoons of oil in a heavy pan and fry the mustard seeds until they begin to "
    "crackle and release their aroma. Keep the flame low so that nothing burns.",
    "Add the onions and stir them gently until they turn golden brown, which usually takes "
    "around eight minutes on a medium flame. Then add the garlic and the ginger paste.",
    "Now add the tomatoes, the turmeric and a pinch of salt, and cook the mixture until the "
    "oil separates from the masala. This is the secret of a rich and tasty soup.",
    "Pour in the soaked lentils with three cups of water, cover the pan, and let everything "
    "simmer for half an hour. Stir it now and then so the lentils do not stick.",
    "Meanwhile we can prepare the tempering with ghee, dried red chillies, curry leaves and a "
    "little asafoetida powder. The kitchen will smell wonderful at this point.",
    "When the lentils are soft, mash them lightly with the back of a ladle so that the soup "
    "becomes thick and creamy. Add a little hot water if it is too thick.",
    "Finally pour the hot tempering over the soup, sprinkle chopped coriander on top, and "
    "serve it with steamed rice or warm bread. A squeeze of lemon makes it even better.",
    "Next week we will show you how to make crispy dosas at home using a batter of rice and "
    "black gram. You will need to soak the rice overnight, so plan ahead.",
    "Remember to write to us with your questions about today's recipe, and we will answer "
    "the best letters during the programme. We read every single one of them.",
    "Thank you for watching, and until next time, enjoy your cooking and share your food with "
    "your neighbours. Good food always tastes better when it is shared with friends.",
)

# --- synthetic items ----------------------------------------------------------------------


def _synthetic_cut(
    old: npt.NDArray[np.uint32], rng: np.random.Generator, pieces: int, flip: float
) -> tuple[npt.NDArray[np.uint32], list[tuple[int, int, int | None]]]:
    """A new cut of ``old``: its pieces kept or dropped, shuffled, with random items inserted.

    Returns the items and, per new piece, (new start, new end, old start or None).
    """
    cuts = np.sort(rng.choice(np.arange(200, len(old) - 200), pieces - 1, replace=False))
    chunks = list(itertools.pairwise([0, *cuts.tolist(), len(old)]))
    kept = [c for i, c in enumerate(chunks) if i % 5 != 2]
    for i in range(0, len(kept) - 1, 6):
        kept[i], kept[i + 1] = kept[i + 1], kept[i]
    parts, truth, pos = [], [], 0
    for i, (a, b) in enumerate(kept):
        parts.append(old[a:b])
        truth.append((pos, pos + b - a, a))
        pos += b - a
        if i % 3 == 1:
            n = int(rng.integers(60, 400))
            parts.append(rng.integers(0, 2**32, n, dtype=np.uint32))
            truth.append((pos, pos + n, None))
            pos += n
    return flip_bits(np.concatenate(parts), flip, rng), truth


def _item_accuracy(
    al: Alignment, truth: list[tuple[int, int, int | None]], margin: int = 24
) -> tuple[float, float]:
    """Recall and precision over new items more than ``margin`` items from any edit."""
    found = correct = shared = 0
    for lo, hi, old_lo in truth:
        for t in range(lo + margin, hi - margin, 4):
            seconds = t * ITEM_SECONDS
            span = next((s for s in al.spans if s.new_start <= seconds < s.new_end), None)
            shared += old_lo is not None
            found += span is not None
            if span is not None and old_lo is not None:
                correct += abs(span.to_old(seconds) - (old_lo + t - lo) * ITEM_SECONDS) <= 0.5
    return correct / max(1, shared), correct / max(1, found)


def test_item_seconds_is_libchromaprints_hop() -> None:
    """1365 samples at 11025 Hz per item, not 4096 / 3: over 20 minutes that is 2.4 items."""
    import acoustid
    import chromaprint

    samples = 11025 * 1200
    pcm = np.random.default_rng(0).normal(0, 3000, samples).astype("<i2")
    encoded = acoustid.fingerprint(11025, 1, iter([pcm.tobytes()]), 24 * 3600)
    raw, _ = chromaprint.decode_fingerprint(encoded)
    frames = (samples - 4096) // round(ITEM_SECONDS * 11025) + 1
    assert ITEM_SECONDS == 1365 / 11025
    assert len(raw) == frames - 19  # a 5-frame chroma filter, then classifiers 16 frames wide


def test_identical_fingerprints_share_everything() -> None:
    fp = np.random.default_rng(1).integers(0, 2**32, 3000, dtype=np.uint32)
    al = align(fp, fp)
    assert len(al.spans) == 1 and al.speed == 1.0
    (span,) = al.spans
    assert span.new_start == span.old_start == 0.0
    assert span.new_end == pytest.approx(al.new_seconds) and span.scale == pytest.approx(1.0)
    assert al.shared_ratio == pytest.approx(1.0)


def test_accepts_python_ints_signed_or_not() -> None:
    fp = np.random.default_rng(2).integers(0, 2**32, 800, dtype=np.uint32)
    signed = tuple(int(x) for x in fp.astype(np.int32))
    assert align(signed, tuple(int(x) for x in fp)).shared_ratio == pytest.approx(1.0)


def test_empty_and_unrelated_share_nothing() -> None:
    rng = np.random.default_rng(3)
    a, b = (rng.integers(0, 2**32, 5000, dtype=np.uint32) for _ in range(2))
    assert align(a, b).spans == () and align(a, b).shared_ratio == 0.0
    assert align([], b).spans == () and align([], b).shared_ratio == 0.0
    assert align(a, []).spans == ()


def test_silence_aligns_with_nothing() -> None:
    """Digital silence gives one item over and over: it matches everywhere, so it says nothing."""
    flat = np.full(2000, 0x5A5A5A5A, dtype=np.uint32)
    assert align(flat, flat).spans == ()
    with pytest.raises(ValueError, match="at least one"):
        best_alignment({}, flat)


def test_span_maps_both_ways() -> None:
    span = Span(new_start=10.0, new_end=20.0, old_start=30.0, old_end=40.427)
    assert span.scale == pytest.approx(1.0427)
    assert span.to_old(15.0) == pytest.approx(35.2135)
    assert span.to_new(span.to_old(17.3)) == pytest.approx(17.3)


def test_synthetic_edits_are_found() -> None:
    rng = np.random.default_rng(4)
    old = rng.integers(0, 2**32, 12_000, dtype=np.uint32)
    new, truth = _synthetic_cut(old, rng, pieces=30, flip=0.08)
    recall, precision = _item_accuracy(align(new, old), truth)
    assert recall >= 0.99 and precision >= 0.995, (recall, precision)
    assert align(new, old).steady  # scenes minutes apart: no other speed worth trying


def test_min_span_seconds_drops_short_spans() -> None:
    rng = np.random.default_rng(5)
    old = rng.integers(0, 2**32, 4000, dtype=np.uint32)
    noise = rng.integers(0, 2**32, 1000, dtype=np.uint32)
    # 32 items of old amid unrelated ones: 4 s of items (from ~6 s of audio: an item reads 2.7 s).
    new = np.concatenate([noise[:500], old[1000:1032], noise[500:]])
    (span,) = align(new, old).spans
    assert 3.0 < span.new_end - span.new_start < 6.0
    assert span.to_old(span.new_start + 1.0) == pytest.approx(
        span.new_start + 1.0 + 500 * ITEM_SECONDS
    )
    assert align(new, old, min_span_seconds=6.0).spans == ()


def test_warp_follows_a_time_stretch() -> None:
    """A tempo change that kept the pitch: new item t holds old item t * 1.0427."""
    rng = np.random.default_rng(6)
    old = rng.integers(0, 2**32, 6000, dtype=np.uint32)
    new = flip_bits(old[np.rint(np.arange(5700) * PAL).astype(int)], 0.05, rng)
    al = best_alignment({1.0: new, PAL: new[::2]}, old)  # the resampled guess is worthless
    assert al.speed == pytest.approx(PAL) and len(al.spans) == 1
    assert al.spans[0].to_old(300.0) == pytest.approx(300.0 * PAL, abs=0.2)
    assert al.shared_ratio > 0.99
    # At the film's own speed the stretch still matches, in spans that drift out of step every
    # few seconds: not steady, so a job tries the other speeds.
    plain = align(new, old)
    assert plain.shared_ratio > 0.5 and not plain.steady


def test_two_hour_films_align_in_seconds_of_cpu() -> None:
    """~58k items each: 60 pieces, 12 dropped, 8 pairs swapped, 16 inserts, ~2 bits in 32 off."""
    rng = np.random.default_rng(7)
    old = rng.integers(0, 2**32, round(7200 / ITEM_SECONDS), dtype=np.uint32)
    new, truth = _synthetic_cut(old, rng, pieces=60, flip=0.06)
    start = time.process_time()
    al = align(new, old)
    cpu = time.process_time() - start
    recall, precision = _item_accuracy(al, truth)
    assert cpu <= 10.0
    assert recall >= 0.99 and precision >= 0.995, (recall, precision)


def test_subhashes_find_a_film_among_many() -> None:
    rng = np.random.default_rng(8)
    films = [rng.integers(0, 2**32, 3000, dtype=np.uint32) for _ in range(1000)]
    index: dict[int, list[int]] = {}  # subhash -> films, as a table keyed by subhash would be
    for n, fp in enumerate(films):
        for key in subhashes(fp).tolist():
            index.setdefault(key, []).append(n)
    new, _ = _synthetic_cut(films[417], rng, pieces=8, flip=0.02)
    votes = np.bincount(
        [n for key in subhashes(new).tolist() for n in index.get(key, [])], minlength=1000
    )
    ranked = np.argsort(votes)[::-1]
    assert ranked[0] == 417 and votes[417] > 10 * votes[ranked[1]]


def test_subhashes_are_sampled_by_value() -> None:
    """Keys do not depend on where an item sits, so a shifted cut keeps them."""
    fp = np.random.default_rng(9).integers(0, 2**32, 4000, dtype=np.uint32)
    keys = subhashes(fp)
    assert 0.2 < len(keys) / len(fp) < 0.3 and np.all(np.diff(keys.astype(np.int64)) > 0)
    assert np.array_equal(subhashes(fp[137:]), np.intersect1d(keys, subhashes(fp[137:])))
    assert len(subhashes(fp[137:])) >= len(keys) - 137 // 2


# --- real audio -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Program:
    """A run of espeak scenes over background noise, and where each scene lies in it."""

    pcm: Pcm
    scenes: tuple[tuple[float, float], ...]  # seconds, each scene with its trailing gap
    fingerprint: npt.NDArray[np.uint32]


def _program(texts: Sequence[str], folder: Path, noise_seed: int) -> Program:
    folder.mkdir()
    parts, scenes, pos = [], [], 0
    gap = np.zeros(round(GAP * SR), dtype=np.int16)
    for n, text in enumerate(texts):
        m4a = speak(text, folder / f"scene{n}.m4a", video=False)
        speech = read_pcm(decode_pcm(m4a, folder / f"scene{n}.wav"))
        parts += [speech, gap]
        scenes.append((pos / SR, (pos + len(speech) + len(gap)) / SR))
        pos += len(speech) + len(gap)
    dry = write_pcm(folder / "dry.wav", np.concatenate(parts))
    mixed = folder / "program.wav"
    noise = f"anoisesrc=c=pink:a=0.02:r={SR}:s={noise_seed}"
    ffmpeg(
        *("-i", str(dry), "-f", "lavfi", "-i", noise),
        *("-filter_complex", "[0][1]amix=inputs=2:duration=first:normalize=0"),
        *("-ac", "1", "-ar", str(SR), "-c:a", "pcm_s16le", str(mixed)),
    )
    return Program(read_pcm(mixed), tuple(scenes), chromaprint_at(mixed))


def fingerprints_at_speeds(wav: Path) -> dict[float, npt.NDArray[np.uint32]]:
    """The new audio's fingerprints at each candidate speed, keyed by the speed each undoes.

    Chromaprint resamples any rate it is told to 11025 Hz, so declaring ``rate / speed`` (an
    integer: the key is the speed that rounding gives) makes it hear the audio ``speed`` times
    slower: a PAL speed-up made by resampling, pitch and all, is undone with no extra decode
    and no ffmpeg filter (no asetrate, no atempo). A speed-up that kept the pitch (atempo) is
    not undone this way, as it would detune the chroma; ``best_alignment`` finds it by warping
    the 1.0 fingerprint instead.
    """
    return {SR / round(SR / s): chromaprint_at(wav, s) for s in SPEEDS}


@dataclass(frozen=True)
class Media:
    film: Program
    inserts: Program
    other: Program


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    root = tmp_path_factory.mktemp("align")
    return Media(
        _program(SCENES, root / "film", noise_seed=1),
        _program(INSERTS, root / "inserts", noise_seed=7),
        _program(OTHER, root / "other", noise_seed=99),
    )


@dataclass(frozen=True)
class Cut:
    """New audio and, per piece, (new start, new end, old start or None), in seconds."""

    pcm: Pcm
    truth: tuple[tuple[float, float, float | None], ...]


Piece = tuple[str, float, float]  # "film" or "inserts", start and end in that program


def _assemble(media: Media, pieces: Sequence[Piece]) -> Cut:
    parts, truth, pos = [], [], 0
    for source, a, b in pieces:
        pcm = (media.film if source == "film" else media.inserts).pcm
        part = pcm[round(a * SR) : round(b * SR)]
        parts.append(part)
        truth.append((pos / SR, (pos + len(part)) / SR, a if source == "film" else None))
        pos += len(part)
    return Cut(np.concatenate(parts), tuple(truth))


def _scenes(media: Media, *order: int) -> list[Piece]:
    return [("film", *media.film.scenes[i]) for i in order]


def _trimmed(media: Media) -> list[Piece]:
    """12 cuts of 1.5-4 s spread over the film, mostly mid-sentence: 13 pieces of ~10 s."""
    rng = np.random.default_rng(10)
    end = len(media.film.pcm) / SR
    centres = np.linspace(0, end, 14)[1:-1] + rng.uniform(-1.5, 1.5, 12)
    lengths = rng.uniform(1.5, 4.0, 12)
    bounds = [0.0, *np.ravel(np.column_stack((centres - lengths / 2, centres + lengths / 2))), end]
    return [("film", a, b) for a, b in zip(bounds[::2], bounds[1::2], strict=True)]


ALL = tuple(range(12))
# name: the pieces of the new cut, then what is done to the whole (ffmpeg filters, the speed)
CASES: dict[str, tuple[Callable[[Media], list[Piece]], tuple[str, ...], float]] = {
    "reencoded_aac_96k": (lambda m: _scenes(m, *ALL), ("-c:a", "aac", "-b:a", "96k"), 1.0),
    "3_scenes_removed": (lambda m: _scenes(m, 0, 1, 3, 4, 5, 7, 8, 10, 11), (), 1.0),
    "2_scenes_inserted": (
        lambda m: [
            *_scenes(m, 0, 1, 2, 3),
            ("inserts", *m.inserts.scenes[0]),
            *_scenes(m, 4, 5, 6, 7, 8),
            ("inserts", *m.inserts.scenes[1]),
            *_scenes(m, 9, 10, 11),
        ],
        (),
        1.0,
    ),
    "reordered": (lambda m: _scenes(m, 0, 1, 5, 6, 7, 2, 3, 4, 8, 11, 9, 10), (), 1.0),
    "12_small_cuts": (_trimmed, (), 1.0),
    "noise_10db": (lambda m: _scenes(m, *ALL), (), 1.0),
    "pal_speedup_pitched": (
        lambda m: _scenes(m, *ALL),
        ("-af", f"asetrate={SR}*25/23.976,aresample={SR}"),
        PAL,
    ),
    "pal_speedup_tempo_only": (lambda m: _scenes(m, *ALL), ("-af", f"atempo={PAL}"), PAL),
    "pal_to_film_slowdown": (
        lambda m: _scenes(m, *ALL),
        ("-af", f"asetrate={SR}*23.976/25,aresample={SR}"),
        1 / PAL,
    ),
    "cut_reordered_pal_aac": (
        lambda m: _scenes(m, 0, 1, 3, 4, 7, 5, 6, 8, 10, 11),
        ("-af", f"asetrate={SR}*25/23.976,aresample={SR}", "-c:a", "aac", "-b:a", "96k"),
        PAL,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_real_cuts_align(case: str, media: Media, tmp_path: Path) -> None:
    pieces, filters, scale = CASES[case]
    cut = _assemble(media, pieces(media))
    pcm = with_noise(cut.pcm, 10) if case == "noise_10db" else cut.pcm
    wav = write_pcm(tmp_path / "cut.wav", pcm)
    if filters:
        # A lossy codec goes through a file of its own, then back to WAV.
        src = wav
        if "aac" in filters:
            src = tmp_path / "cut.m4a"
            ffmpeg("-i", str(wav), *filters, str(src))
            filters = ()
        wav = decode_pcm(src, tmp_path / "new.wav", *filters)
    al = best_alignment(fingerprints_at_speeds(wav), media.film.fingerprint)
    truth = tuple((a / scale, b / scale, old) for a, b, old in cut.truth)
    # Pauses are read from the audio before any added noise, which fills them.
    result = score(al, truth, scale, cut.pcm if case == "noise_10db" else read_pcm(wav))
    assert all(a.new_end <= b.new_start for a, b in itertools.pairwise(al.spans))
    assert al.speed == pytest.approx(scale, rel=1e-3), al
    assert result.recall >= 0.97 and result.precision >= 0.99, f"{case}: {result}"
    assert result.boundary_error <= 0.5, f"{case}: {result}"


def test_other_content_shares_nothing(media: Media, tmp_path: Path) -> None:
    """Another programme in the same voice over the same kind of background."""
    wav = write_pcm(tmp_path / "other.wav", media.other.pcm)
    for speed, fp in fingerprints_at_speeds(wav).items():
        assert align(fp, media.film.fingerprint, speed=speed).shared_ratio < 0.02
    assert best_alignment(fingerprints_at_speeds(wav), media.film.fingerprint).shared_ratio < 0.02


def test_real_subhashes_tell_a_cut_from_other_content(media: Media, tmp_path: Path) -> None:
    """A cut keeps many of the film's keys (fewer when noisy); other content keeps almost none.

    Even a clean cut loses some: an item read a fraction of a hop off the old grid often differs
    in a bit or two, and an exact key then misses. That is why keys only shortlist films.
    """
    cut = _assemble(media, _scenes(media, 0, 1, 5, 6, 7, 2, 3, 4, 8, 11, 9, 10))
    film = subhashes(media.film.fingerprint)

    def kept(fp: npt.NDArray[np.uint32]) -> float:
        return np.intersect1d(film, subhashes(fp)).size / film.size

    clean = kept(chromaprint_at(write_pcm(tmp_path / "clean.wav", cut.pcm)))
    noisy = kept(chromaprint_at(write_pcm(tmp_path / "noisy.wav", with_noise(cut.pcm, 10))))
    other = kept(media.other.fingerprint)
    assert clean > 0.4 and noisy > 0.15 and other < 0.05 and noisy > 5 * other, (
        clean,
        noisy,
        other,
    )


def test_media_is_what_the_cases_assume(media: Media) -> None:
    assert 120 < len(media.film.pcm) / SR < 200 and len(media.film.scenes) == 12
    assert all(b - a > 9 for a, b in media.film.scenes)
