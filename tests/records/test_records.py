from __future__ import annotations

import dataclasses

from records import Segment, Transcript, Word


def test_mean_confidence_weighs_segments_by_length_and_skips_unknown() -> None:
    transcript = Transcript(
        "en",
        (
            Segment(0.0, 3.0, "long and sure", confidence=0.9),
            Segment(3.0, 4.0, "short and unsure", confidence=0.5),
            Segment(4.0, 9.0, "no score"),
        ),
    )
    assert transcript.mean_confidence == (0.9 * 3 + 0.5 * 1) / 4
    assert Transcript("en", (Segment(0.0, 1.0, "x"),)).mean_confidence is None


def test_a_segment_is_cut_into_sentences_by_its_word_times() -> None:
    words = ("Hola,", "Marta.", "¿Has", "visto", "las", "llaves?", "Sí.")
    times = ((0, 1), (1, 2), (3, 4), (4, 5), (5, 6), (6, 7), (8, 9))
    segment = Segment(
        0.0,
        9.5,
        "Hola, Marta. ¿Has visto  las llaves? Sí.",
        0.8,
        tuple(Word(w, a, b) for w, (a, b) in zip(words, times, strict=True)),
        "S1",
    )
    pieces = segment.sentences()
    assert [(p.start, p.end, p.text) for p in pieces] == [
        (0, 2, "Hola, Marta."),
        (3, 7, "¿Has visto  las llaves?"),  # the text's own spacing
        (8, 9, "Sí."),
    ]
    assert [len(p.words) for p in pieces] == [2, 4, 1]
    assert {(p.speaker, p.confidence) for p in pieces} == {("S1", 0.8)}
    # Diarized words: each sentence is said by whoever says most of it.
    spoken = dataclasses.replace(
        segment,
        words=tuple(
            dataclasses.replace(w, speaker="S2" if w.word == "Sí." else "S1") for w in segment.words
        ),
    )
    assert [p.speaker for p in spoken.sentences()] == ["S1", "S1", "S2"]
    hindi = Segment(
        0.0,
        4.0,
        "तुम कहाँ थे? फ़ोन किया।",
        words=tuple(Word(w, i, i + 1) for i, w in enumerate(["तुम", "कहाँ", "थे?", "फ़ोन", "किया।"])),
    )
    assert [p.text for p in hindi.sentences()] == ["तुम कहाँ थे?", "फ़ोन किया।"]
    # Untimed words, or words that are not the text's: the segment stays whole.
    assert segment.sentences()[0] is not segment
    untimed = Segment(0.0, 2.0, "One. Two.", words=(Word("One."), Word("Two.")))
    assert untimed.sentences() == (untimed,)
    other = Segment(0.0, 2.0, "One. Two.", words=(Word("Uno.", 0, 1), Word("Dos.", 1, 2)))
    assert other.sentences() == (other,)
    single = Segment(0.0, 2.0, "Just one.", words=(Word("Just", 0, 1), Word("one.", 1, 2)))
    assert single.sentences() == (single,)


def test_turns_label_every_word_and_segment() -> None:
    from records import Diarization, SpeakerTurn

    turns = Diarization((SpeakerTurn(0.0, 2.0, "A"), SpeakerTurn(2.2, 5.0, "B")), {"A": (1.0, 0.0)})
    said = Segment(
        0.0,
        5.0,
        "Hello there. Hi.",
        words=(Word("Hello", 0.1, 0.6), Word("there.", 0.7, 1.9), Word("Hi.", 2.5, 4.8)),
    )
    untimed = Segment(5.2, 5.6, "Yes.")
    far = Segment(9.0, 9.5, "Later.")
    labelled = turns.label(Transcript("en", (said, untimed, far)))
    first, second, third = labelled.segments
    assert [w.speaker for w in first.words] == ["A", "A", "B"]
    assert first.speaker == "B"  # B speaks most of its words' time (2.3 s against 1.7 s)
    assert second.speaker == "B"  # no turn over it: the nearest, within a second
    assert third.speaker is None  # nobody near
    assert turns.speakers == ("A", "B")
    assert Diarization.from_dict(turns.to_dict()) == turns
    # A transcript without speakers is stored as it always was.
    assert "speaker" not in Word("x", 0.0, 1.0).to_dict()
    assert Segment.from_dict(first.to_dict()) == first


def test_a_change_of_speaker_near_a_sentence_end_moves_to_it() -> None:
    from records import Diarization, SpeakerTurn

    # Diarization's edges land one word early ("design." heard as B) and two words late ("And
    # I'm" heard as B): both move to the sentence's end. A change mid-sentence far from one stays.
    text = "I need to design. Okay, I heard a beep. And I'm Sheila from the old town of Texas"
    words, at = [], 0.0
    for w in text.split():
        words.append(Word(w, at, at + 0.3))
        at += 0.4
    turns = Diarization(
        (
            SpeakerTurn(0.0, 1.15, "A"),  # ends inside "design."
            SpeakerTurn(1.2, 4.35, "B"),  # runs over "And I'm"
            SpeakerTurn(4.4, 5.5, "A"),  # "Sheila from the"
            SpeakerTurn(5.55, 9.0, "C"),  # "old town of Texas": an interruption, kept
        )
    )
    said = turns.label(Transcript("en", (Segment(0.0, at, text, words=tuple(words)),)))
    shown = [(w.word, w.speaker) for w in said.segments[0].words]
    assert [who for _, who in shown] == ["A"] * 4 + ["B"] * 5 + ["A"] * 5 + ["C"] * 4, shown
