"""Layer 5: learning names and cultural terms, applying them, and the glossary files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from cache_store import PayloadError
from glossary import (
    Glossary,
    GlossaryEntry,
    GlossaryError,
    GlossaryPolicy,
    GlossaryStore,
    LearnReport,
    TermType,
    correct_names,
    extract_character_names,
    extract_cultural_terms,
    movie_id_from_path,
    protect,
    render_terms,
    split_on_terms,
)
from records import Segment, Transcript, Word
from testkit import run_in_processes, tree_state


def _seg(text: str, score: float | None = 0.95, speaker: str | None = None) -> Segment:
    """A segment with one aligned word per whitespace token, all with ``score``."""
    words = tuple(Word(w, score=score) for w in text.split())
    return Segment(0.0, 1.0, text, None, words, speaker)


def _tr(*segments: Segment | str) -> Transcript:
    return Transcript("en", tuple(_seg(s) if isinstance(s, str) else s for s in segments))


def _names(t: Transcript, **policy: Any) -> dict[str, int]:
    found = extract_character_names(t, GlossaryPolicy(**policy))
    return {e.term: e.frequency for e in found}


def _user(term: str, kind: TermType = "character_name", **kw: Any) -> GlossaryEntry:
    return GlossaryEntry(term, kind, source="user", **kw)


def _get(glossary: Glossary, term: str) -> GlossaryEntry:
    entry = glossary.get(term)
    assert entry is not None, f"{term!r} is not in {glossary.movie_id}"
    return entry


# --- learning -----------------------------------------------------------------------------


def test_names_need_min_frequency_and_confident_words() -> None:
    three = _tr("Where is Aditi now?", "I saw Aditi today.", "Tell Aditi to come.")
    assert _names(three) == {"Aditi": 3}
    assert _names(three, min_frequency=4) == {}
    weak = _tr("Where is Aditi now?", "I saw Aditi today.", _seg("Tell Aditi to come.", 0.5))
    assert _names(weak) == {}  # the 0.5 occurrence does not count: 2 < 3
    assert _names(weak, min_word_confidence=0.4) == {"Aditi": 3}
    learned = extract_character_names(weak, GlossaryPolicy(min_word_confidence=0.4))[0]
    assert learned.confidence == pytest.approx((0.95 * 2 + 0.5) / 3, abs=1e-4)
    # No word scores: the segment's confidence stands in for each word's.
    unaligned = Transcript(
        "en", tuple(Segment(0, 1, f"Call Meera now {i}.", 0.7) for i in range(3))
    )
    assert extract_character_names(unaligned)[0].confidence == 0.7


def test_sentence_starts_stopwords_and_common_words_are_not_names() -> None:
    t = _tr(
        "Listen to me. Listen, please.",
        "Listen now.",
        "We said Okay to Okay and Okay.",
        "Will you come? I will. You will. Will said so.",
        "Rahul went home. Then Rahul slept. Ask Rahul.",
    )
    assert _names(t) == {"Rahul": 3}


def test_misspellings_fold_into_the_frequent_name() -> None:
    t = _tr(
        "Where is Jai now?",
        "I told Jai and Jay yesterday.",
        "Jai, come here. Ask Jai.",
        "Call Jay later.",
        "Priya met Piya. Then Priya met Piya. So Priya met Piya.",
    )
    names = _names(t)
    assert names["Jai"] == 6 and "Jay" not in names  # "Jay" is "Jai" misheard
    assert names["Priya"] == 3 and names["Piya"] == 3  # equally frequent: two characters
    # A name the glossary already knows anchors its variants even when rarer here.
    known = extract_character_names(
        _tr("Ask Jay now.", "Ask Jay again.", "Ask Jay later."), known=["Jai"]
    )
    assert [(e.term, e.frequency) for e in known] == [("Jai", 3)]


def test_speakers_and_contexts_are_collected() -> None:
    t = _tr(*(_seg(f"Please call Aditi number {i}.", speaker=f"S{i % 2}") for i in range(5)))
    (aditi,) = extract_character_names(t)
    assert aditi.speakers == ("S0", "S1")
    assert len(aditi.contexts) == 3 and aditi.contexts[0] == "Please call Aditi number 0."


def test_a_name_is_learned_as_a_hint_of_whom_it_was_said_to() -> None:
    lines = []
    for i in range(3):
        lines += [
            _seg(f"Listen, Rahul, the train {i} is late.", speaker="SPEAKER_00"),
            _seg("I know.", speaker="SPEAKER_01"),  # Rahul answers
            _seg("Fine.", speaker="SPEAKER_01"),
        ]
    lines.append(_seg("Rahul never listens.", speaker="SPEAKER_01"))  # nobody answers it
    (rahul,) = extract_character_names(_tr(*lines))
    assert rahul.frequency == 4 and rahul.speakers == ("SPEAKER_01",)


def test_cultural_terms_in_both_scripts() -> None:
    t = Transcript(
        "hi",
        (
            _seg("अरे बेटा, खाना खाओ"),
            _seg("beta come here, yaar"),
            _seg("Beta! Sharma ji, namaste"),
            _seg("राम जी और श्याम जी"),
            _seg("yaar, dil se", 0.3),
        ),
    )
    found = {e.term: e for e in extract_cultural_terms(t)}
    assert set(found) == {"beta", "ji"}
    assert found["beta"].frequency == 3 and found["beta"].alternatives == ("dear", "son")
    ji = found["ji"]
    assert ji.preserve and ji.rendering("en") == "ji" and ji.rendering("hi") == "जी"
    assert found["beta"].rendering("en") is None  # not protected: the model translates it
    once = extract_cultural_terms(t, GlossaryPolicy(min_frequency=1))
    assert [e.term for e in once] == ["arre", "beta", "ji", "namaste", "yaar"]  # dil: at 0.3


def _film_transcript(tag: str, *, names: str = "Aditi", score: float = 0.95) -> Transcript:
    lines = [f"Where is {names} now {tag}?", f"I told {names} twice.", f"Ask {names} again."]
    return Transcript("en", tuple(_seg(line, score) for line in lines))


def test_learn_merges_counts_once_per_transcript(tmp_path: Path) -> None:
    store = GlossaryStore(tmp_path)
    first = store.learn("film", _film_transcript("a"))
    assert first.added == ("Aditi",) and first.global_terms == ("Aditi",)
    again = store.learn("film", _film_transcript("a"))  # a cached re-run: same ASR result
    assert again.already_counted and _get(store.load("film"), "aditi").frequency == 3
    second = store.learn("film", _film_transcript("b", score=0.75))
    assert second.updated == ("Aditi",)
    aditi = store.load("film").get("Aditi")
    assert aditi is not None and aditi.frequency == 6
    assert aditi.confidence == pytest.approx(0.85)
    assert len(store.load("film").learned_from) == 2
    assert store.movies() == ["film"]


def test_user_entries_win_and_are_never_overwritten(tmp_path: Path) -> None:
    store = GlossaryStore(tmp_path)
    store.add("film", _user("Aditi", translations=(("gu", "અદિતિ"),)))
    report = store.learn("film", _film_transcript("a"))
    assert report.kept_user == ("Aditi",) and not report.added
    aditi = store.load("film").get("Aditi")
    assert aditi == _user("Aditi", translations=(("gu", "અદિતિ"),))
    assert _get(store.load_global(), "Aditi").source == "learned"
    # The job's glossary: the user's film entry over the learned global one.
    assert _get(store.for_job("film"), "aditi").source == "user"
    assert _get(store.for_job(None), "aditi").source == "learned"
    # And a user entry in the global glossary beats a learned one of the film.
    store.learn("other", _film_transcript("b", names="Meera"))
    store.add("global", _user("Meera", translations=(("fr", "Mira"),)))
    assert _get(store.for_job("other"), "Meera").rendering("fr") == "Mira"


def test_global_learning_thresholds(tmp_path: Path) -> None:
    store = GlossaryStore(tmp_path)
    store.learn("film", _film_transcript("a", names="Meera", score=0.7))
    assert store.load("film").get("Meera") is not None
    assert store.load_global().entries == ()  # 0.7 < GLOSSARY_GLOBAL_MIN_CONFIDENCE 0.85
    store.learn("film", _film_transcript("b"), GlossaryPolicy(update_global=False))
    assert store.load("film").get("Aditi") is not None and store.load_global().entries == ()
    report = store.learn("solo", _film_transcript("c"), GlossaryPolicy(per_movie_enabled=False))
    assert not report.added and report.global_terms == ("Aditi",)
    assert "solo" not in store.movies() and store.load_global().get("Aditi") is not None
    off = store.learn("film", _film_transcript("d"), GlossaryPolicy(learning_enabled=False))
    assert off == LearnReport("film") and _get(store.load("film"), "Aditi").frequency == 3
    names_off = GlossaryPolicy(extract_names=False)
    assert store.learn("film", _film_transcript("e"), names_off).added == ()
    low = GlossaryPolicy(global_min_confidence=0.6)
    assert store.learn("film", _film_transcript("f", names="Meera", score=0.7), low).global_terms


def _learn_many(root: str, worker: int) -> None:
    store = GlossaryStore(Path(root))
    for i in range(40):  # without the lock, about one update in ten is lost
        store.learn("film", _film_transcript(f"w{worker}-{i}"))


def test_concurrent_learning_loses_no_counts(tmp_path: Path) -> None:
    run_in_processes((_learn_many, (str(tmp_path), 1)), (_learn_many, (str(tmp_path), 2)))
    store = GlossaryStore(tmp_path)
    assert _get(store.load("film"), "Aditi").frequency == 240
    assert _get(store.load_global(), "Aditi").frequency == 240
    assert len(store.load("film").learned_from) == 80


# --- applying -----------------------------------------------------------------------------

NAMES = Glossary(
    "film",
    (
        GlossaryEntry("Jai", "character_name", 40, 0.95, speakers=("S1",)),
        GlossaryEntry("Aditi", "character_name", 30, 0.95, translations=(("fr", "Aditee"),)),
        GlossaryEntry("Maya", "character_name", 10, 0.9),
        GlossaryEntry("ji", "cultural_term", 9, preserve=True, forms=("जी",)),
        GlossaryEntry("beta", "cultural_term", 9, alternatives=("dear",)),
    ),
)


def test_correct_names_respells_misheard_names_only() -> None:
    segments = (
        Segment(
            0,
            1,
            "Jay met Adithi in May. say it, Jai.",
            None,
            (
                Word("Jay", score=0.5),
                Word("met", score=0.9),
                Word("Adithi", score=0.95),
                Word("in", score=0.9),
                Word("May.", score=0.9),
                Word("say", score=0.8),
                Word("it,", score=0.9),
                Word("Jai.", score=0.7),
            ),
            "S1",
        ),
        Segment(1, 2, "jai ho, Jaipur.", 0.8, (), "S2"),
    )
    fixed, corrections = correct_names(Transcript("en", segments), NAMES)
    assert fixed.segments[0].text == "Jai met Aditi in May. say it, Jai."
    assert fixed.segments[1].text == "Jai ho, Jaipur."
    assert [(c.segment, c.original, c.corrected) for c in corrections] == [
        (0, "Jay", "Jai"),
        (0, "Adithi", "Aditi"),
        (1, "jai", "Jai"),
    ]
    words = fixed.segments[0].words
    assert [w.word for w in words] == ["Jai", "met", "Aditi", "in", "May.", "say", "it,", "Jai."]
    assert words[0].score == pytest.approx(0.9)  # respelt: max(0.5, 100/100 * 0.9)
    assert words[2].score == 0.95  # already above what a respelling gives
    assert words[4].score == 0.9 and words[5].score == 0.8  # untouched
    assert words[7].score == pytest.approx(0.7 * 1.2 * 1.1)  # a known name, its own speaker
    assert correct_names(Transcript("en", segments), Glossary("film")) == (
        Transcript("en", segments),
        [],
    )


def test_protect_and_restore() -> None:
    p = protect("Jai ji, where is beta Jai? जी", NAMES, "fr")
    assert p.text == "ZQX0 ZQX1, where is beta ZQX2? ZQX3"
    assert [e.term for e in p.terms] == ["Jai", "ji"]  # beta has no rendering: not protected
    assert p.restore("ZQX0 ZQX1, où est beta ZQX2 ? zqx3") == "Jai ji, où est beta Jai ? ji"
    assert p.restore("ZQX0 ZQX1, où est beta ? ZQX3") is None  # lost
    assert p.restore("ZQX0 ZQX1 ZQX1, où est ZQX2 ? ZQX3") is None  # doubled
    assert p.restore("ZQX0 ZQX1 ZQX2 ZQX3 ZQX4") is None  # invented
    assert protect("Aditi", NAMES, "fr").restore("ZQX0") == "Aditee"
    assert protect("Aditi", NAMES, "de").restore("ZQX0") == "Aditi"
    plain = protect("nothing here", NAMES, "fr")
    assert plain.text == "nothing here" and plain.restore("rien ici") == "rien ici"
    clash = protect("Jai said ZQX0", NAMES, "fr")
    assert clash.restore("anything") is None and clash.chunks[0] == ("Jai", True)


def test_split_on_terms_for_the_fallback() -> None:
    assert split_on_terms("Jai, meet Aditi ji.", NAMES, "fr") == [
        ("Jai", True),
        (", meet ", False),
        ("Aditee", True),
        (" ", False),
        ("ji", True),
        (".", False),
    ]
    assert split_on_terms("Jaipur beta", NAMES, "fr") == [("Jaipur beta", False)]


def test_digest_for_changes_only_where_a_changed_term_occurs() -> None:
    changed = NAMES.with_entry(
        GlossaryEntry("Jai", "character_name", 40, translations=(("fr", "Jaï"),))
    )
    assert NAMES.digest_for("Aditi is here", "fr") == changed.digest_for("Aditi is here", "fr")
    assert NAMES.digest_for("Jai is here", "fr") != changed.digest_for("Jai is here", "fr")
    assert NAMES.digest_for("nobody here", "fr") == "" and NAMES.digest("fr") != ""
    assert NAMES.digest("fr") != changed.digest("fr")
    # Learning (counts, confidence, contexts) and entry order never invalidate translations.
    recounted = Glossary(
        "film", tuple(dataclasses.replace(e, frequency=e.frequency + 5) for e in NAMES.entries)
    )
    assert recounted.digest("fr") == NAMES.digest("fr")
    assert Glossary("x", tuple(reversed(NAMES.entries))).digest("fr") == NAMES.digest("fr")
    assert NAMES.digest_for("beta", "fr") == ""  # no rendering: the output cannot change


def test_glossary_lookup_and_merge() -> None:
    assert NAMES.get("JAI") is NAMES.get("jai") is not None
    assert [e.term for e in NAMES.terms_in("JAI, beta Jaipur राम जी jai")] == ["Jai", "beta", "ji"]
    learned = Glossary("film", (GlossaryEntry("Jai", "character_name", 3),))
    user = Glossary("global", (_user("Jai", translations=(("fr", "J"),)),))
    assert _get(learned.merged_with(user), "Jai").source == "user"
    assert _get(user.merged_with(learned), "Jai").source == "user"
    with pytest.raises(GlossaryError, match="appears twice"):
        Glossary("film", (GlossaryEntry("Jai", "character_name"), _user("jai")))


# --- files and ids ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Jaane.Tu.Ya.Jaane.Na.2008.1080p.BluRay.x264.mkv", "jaane_tu_ya_jaane_na"),
        ("jaane tu ya jaane na (2008) Directors Cut.mp4", "jaane_tu_ya_jaane_na"),
        ("Jaane Tu Ya Jaane Na (2008) [Extended] 720p WEB-DL DD5.1.mkv", "jaane_tu_ya_jaane_na"),
        ("[YTS] Jaane.Tu.Ya.Jaane.Na.2008.HDRip.XviD-GRP.avi", "jaane_tu_ya_jaane_na"),
        ("Jaane Tu Ya Jaane Na - Theatrical Cut.mkv", "jaane_tu_ya_jaane_na"),
        ("2012.2009.2160p.UHD.mkv", "2012"),
        ("Dhoom 2.mp4", "dhoom_2"),
        ("Charlotte's Web.mp4", "charlotte_s_web"),
    ],
)
def test_movie_id_from_path(name: str, expected: str) -> None:
    assert movie_id_from_path(Path("/films") / name) == expected


def test_movie_id_from_a_non_latin_name_is_a_stable_hash() -> None:
    first = movie_id_from_path(Path("जाने तू.mp4"))
    assert first.startswith("film_") and first == movie_id_from_path(Path("/x/जाने तू.mp4"))


@pytest.mark.parametrize("bad", ["../escape", "/etc", "a/b", "", ".hidden", "x" * 129, "a\x00b"])
def test_hostile_movie_ids_are_refused(tmp_path: Path, bad: str) -> None:
    store = GlossaryStore(tmp_path / "root")
    with pytest.raises(GlossaryError, match="bad movie id"):
        store.add(bad, _user("Jai"))
    with pytest.raises(GlossaryError, match="bad movie id"):
        store.learn(bad, _film_transcript("a"))
    with pytest.raises(GlossaryError, match="bad movie id"):
        store.load(bad)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) in ([], [".glossary.lock"])
    assert GlossaryStore(tmp_path).path("Film-1.x").parent.name == "film-1.x"


def test_damaged_glossary_file_is_a_payload_error(tmp_path: Path) -> None:
    store = GlossaryStore(tmp_path)
    store.learn("film", _film_transcript("a"))
    path = tmp_path / "film" / "learned_glossary.json"
    raw = path.read_bytes()
    path.write_bytes(raw.replace(b"Aditi", b"Adit1", 1))
    with pytest.raises(PayloadError, match="checksum mismatch"):
        store.load("film")
    with pytest.raises(PayloadError):
        store.learn("film", _film_transcript("b"))
    assert path.read_bytes() == raw.replace(b"Aditi", b"Adit1", 1)  # left for inspection
    # A well-formed payload holding a bad glossary is damage too, not a traceback.
    from cache_store._payloads import encode

    path.write_bytes(encode({"format": "cpwx-glossary", "version": 1, "movie_id": "film"})[0])
    with pytest.raises(PayloadError, match="no 'entries'"):
        store.load("film")
    (tmp_path / "global" / "global_glossary.json").write_bytes(b"#cpwx-payload 1 sha256=00\n{}")
    with pytest.raises(PayloadError):
        store.for_job(None)


def test_export_then_import_into_another_store(tmp_path: Path) -> None:
    source = GlossaryStore(tmp_path / "a")
    source.learn("film", _film_transcript("a"))
    source.add("film", _user("Jai", translations=(("gu", "જય"),), preserve=True))
    exported = source.export("film", tmp_path / "film.json")
    assert json.loads((tmp_path / "film.json").read_text())["movie_id"] == "film"
    target = GlossaryStore(tmp_path / "b")
    target.add("film", _user("Aditi", translations=(("fr", "Adi"),)))
    imported = target.import_file(tmp_path / "film.json")
    assert imported == exported
    merged = target.load("film")
    assert merged.get("Jai") == exported.get("Jai")
    assert _get(merged, "Aditi").source == "user"
    assert merged.learned_from == exported.learned_from
    # The stored payload file itself imports too (copied from another machine).
    assert target.import_file(tmp_path / "a" / "film" / "learned_glossary.json") == exported
    with pytest.raises(GlossaryError, match="no glossary for 'nothing'"):
        source.export("nothing", tmp_path / "x.json")


_GOOD_ENTRY = {"term": "Jai", "type": "character_name"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a valid glossary file"),
        ("[]", "one JSON object"),
        ({"format": "other", "version": 1, "movie_id": "f", "entries": []}, "not a cpwx-glossary"),
        ({"movie_id": "../up", "entries": [_GOOD_ENTRY]}, "bad movie id"),
        (
            {"movie_id": "f", "entries": [_GOOD_ENTRY, {"type": "cultural_term"}]},
            "entry 2: .*no 'term'",
        ),
        (
            {"movie_id": "f", "entries": [{"term": "x", "type": "slang"}]},
            "unknown term type 'slang'",
        ),
        ({"movie_id": "f", "entries": [{**_GOOD_ENTRY, "frequency": "3"}]}, "frequency"),
        ({"movie_id": "f", "entries": [{**_GOOD_ENTRY, "translation": {}}]}, "unknown field"),
        (
            {"movie_id": "f", "entries": [{**_GOOD_ENTRY, "translations": {"fr": 1}}]},
            "translations",
        ),
        ({"movie_id": "f", "entries": [_GOOD_ENTRY, {**_GOOD_ENTRY, "term": "JAI"}]}, "twice"),
        ({"movie_id": "f", "entries": [{**_GOOD_ENTRY, "term": " Jai\n"}]}, "bad glossary term"),
    ],
)
def test_malformed_imports_leave_the_store_unchanged(
    tmp_path: Path, content: object, message: str
) -> None:
    store = GlossaryStore(tmp_path / "store")
    store.learn("f", _film_transcript("a"))
    before = tree_state(tmp_path / "store")
    if isinstance(content, dict):
        content = json.dumps({"format": "cpwx-glossary", "version": 1, **content})
    bad = tmp_path / "bad.json"
    bad.write_text(str(content), encoding="utf-8")
    with pytest.raises(GlossaryError, match=message) as caught:
        store.import_file(bad)
    assert "\n" not in str(caught.value)
    assert tree_state(tmp_path / "store") == before


CROSS = Glossary(
    "film",
    (
        GlossaryEntry("Rahul", "character_name", source="user"),
        GlossaryEntry("Karva Chauth", "cultural_term", source="user", preserve=True),
        GlossaryEntry("बेटा", "cultural_term", source="user", alternatives=("son", "dear")),
        GlossaryEntry("ji", "cultural_term", source="user", preserve=True),
    ),
)


def test_terms_match_in_either_script() -> None:
    def found(text: str) -> list[tuple[str, str]]:
        return [(text[a:b], e.term) for a, b, e in CROSS.occurrences(text)]

    # Latin terms in Devanagari text, one word or several; a Devanagari term in Latin text.
    assert found("राहुल, करवा चौथ पर घर आओ") == [("राहुल", "Rahul"), ("करवा चौथ", "Karva Chauth")]
    assert found("Arre beta, Rahul aaya") == [("beta", "बेटा"), ("Rahul", "Rahul")]
    assert found("Rahulji, रा हुल") == []  # whole words only
    assert [e.term for e in CROSS.terms_in("राहुल और Rahul")] == ["Rahul"]
    CROSS.read_ahead(["राहुल कहाँ है", "मैं"])  # one romanizer call for many lines
    guarded = protect("राहुल, तुम कहाँ थे?", CROSS, "en")
    assert guarded.text == "ZQX0, तुम कहाँ थे?" and guarded.restore("ZQX0, where were you?") == (
        "Rahul, where were you?"
    )
    assert CROSS.digest_for("राहुल", "en") == CROSS.digest_for("Rahul", "en") != ""


def test_speech_translations_get_the_glossary_renderings() -> None:
    source = "राहुल बेटा, करवा चौथ पर घर आओ जी"
    text, terms = render_terms(source, "Raahul, son, come home for the fast.", CROSS, "en")
    assert text == "Rahul, son, come home for the fast."  # a misheard name respelt
    assert [t.term for t in terms] == ["Rahul", "Karva Chauth", "ji"]  # बेटा: no rendering
    preserved = dataclasses.replace(CROSS.get("बेटा"), preserve=True)  # type: ignore[arg-type]
    glossary = CROSS.with_entry(preserved)
    text, _ = render_terms("बेटा, सुनो", "Son, listen. My son.", glossary, "en")
    assert text == "बेटा, listen. My son."  # its first meaning becomes it, capital kept
    unchanged = "Come home, Rahul."
    assert render_terms("राहुल घर आओ", unchanged, CROSS, "en")[0] == unchanged
