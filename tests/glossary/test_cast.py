"""A film's cast: the same voice under the same label (and name) in every job of the film."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from cache_store import PayloadError
from glossary import SAME_VOICE, Cast, GlossaryEntry, GlossaryError, GlossaryStore
from records import Diarization, SpeakerTurn


def _unit(*xs: float) -> tuple[float, ...]:
    norm = math.sqrt(sum(x * x for x in xs))
    return tuple(x / norm for x in xs)


JAI, PRIYA, STRANGER = _unit(1, 0, 0), _unit(0, 1, 0), _unit(0, 0, 1)


def _job(**voices: tuple[float, ...]) -> Diarization:
    """Turns of 10 s for each label in order, with its voice."""
    turns = tuple(SpeakerTurn(10.0 * k, 10.0 * k + 10, label) for k, label in enumerate(voices))
    return Diarization(turns=turns, voices=dict(voices))


def test_the_same_voice_keeps_its_film_label_across_jobs() -> None:
    cast, first = Cast("film").recognise(_job(SPEAKER_00=JAI, SPEAKER_01=PRIYA), "a1")
    assert first == {"SPEAKER_00": "SPEAKER_00", "SPEAKER_01": "SPEAKER_01"}
    # The next episode numbers them the other way round, and a new voice joins.
    nearly_jai = _unit(1, 0.2, 0)
    cast, second = cast.recognise(
        _job(SPEAKER_00=PRIYA, SPEAKER_01=nearly_jai, SPEAKER_02=STRANGER), "a2"
    )
    assert second == {
        "SPEAKER_00": "SPEAKER_01",
        "SPEAKER_01": "SPEAKER_00",
        "SPEAKER_02": "SPEAKER_02",
    }
    jai = cast.member("SPEAKER_00")
    assert jai.seconds == 20 and 0.98 < sum(x * x for x in jai.voice) < 1.02
    assert jai.voice != JAI  # the voice learns from every audio it is heard in ...
    again, third = cast.recognise(_job(SPEAKER_00=PRIYA, SPEAKER_01=nearly_jai), "a2")
    assert again == cast and third["SPEAKER_01"] == "SPEAKER_00"  # ... once per audio


def test_a_named_speaker_is_shown_by_name_and_two_voices_never_share_a_member() -> None:
    cast, _ = Cast("film").recognise(_job(SPEAKER_00=JAI, SPEAKER_01=PRIYA), "a1")
    cast = cast.named("SPEAKER_00", " Jai ")
    # Two job voices both near Jai: only the nearer one is Jai.
    near, nearer = _unit(1, 0, 0.3), _unit(1, 0, 0.1)
    assert math.dist(near, JAI) < SAME_VOICE
    _, names = cast.recognise(_job(A=near, B=nearer), "a2")
    assert names["B"] == "Jai" and names["A"] not in ("Jai", "SPEAKER_00")
    assert cast.named("Jai", "Jai Singh").member("SPEAKER_00").name == "Jai Singh"
    with pytest.raises(GlossaryError, match=r"no speaker 'SPEAKER_07'.*SPEAKER_01"):
        cast.named("SPEAKER_07", "Ravi")
    with pytest.raises(GlossaryError, match="bad speaker name"):
        cast.named("SPEAKER_01", "[Priya]")


def test_naming_is_stored_with_the_film_and_its_glossary(tmp_path: Path) -> None:
    store = GlossaryStore(tmp_path)
    names = store.recognise("film", _job(SPEAKER_00=JAI, SPEAKER_01=PRIYA), "a1")
    assert names["SPEAKER_01"] == "SPEAKER_01"
    store.name_speaker("film", "SPEAKER_01", "Priya")
    assert store.recognise("film", _job(X=PRIYA), "a2") == {"X": "Priya"}
    entry = store.load("film").get("Priya")
    assert entry is not None and entry.speakers == ("SPEAKER_01",) and entry.source == "user"
    store.name_speaker("film", "SPEAKER_00", "Priya")  # a second voice of the same person
    assert store.load("film").get("Priya").speakers == ("SPEAKER_01", "SPEAKER_00")  # type: ignore[union-attr]
    with pytest.raises(GlossaryError, match="global"):
        store.name_speaker("global", "SPEAKER_00", "Jai")
    before = store.cast_path("film").read_bytes()
    with pytest.raises(GlossaryError, match="no speaker"):
        store.name_speaker("film", "SPEAKER_09", "Ravi")
    assert store.cast_path("film").read_bytes() == before  # nothing changed
    store.cast_path("film").write_bytes(before[:-20])
    with pytest.raises(PayloadError, match="speakers"):
        store.cast("film")


def test_naming_a_learned_name_makes_it_the_users(tmp_path: Path) -> None:
    store = GlossaryStore(tmp_path)
    store.recognise("film", _job(SPEAKER_00=JAI, SPEAKER_01=PRIYA), "a1")
    learned = GlossaryEntry("Jai", "character_name", frequency=4, speakers=("SPEAKER_01",))
    store.save(store.load("film").with_entry(learned))
    store.name_speaker("film", "SPEAKER_00", "Jai")
    jai = store.load("film").get("Jai")
    assert jai is not None and jai.source == "user" and jai.speakers == ("SPEAKER_00",)
    assert jai.frequency == 4  # what was learned of the name stays
