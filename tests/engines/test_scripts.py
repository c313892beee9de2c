from __future__ import annotations

import pytest

from engines.scripts import ScriptError, check_script, romanize
from records import Segment, Transcript, Word


def _segment(text: str, start: float) -> Segment:
    words = tuple(
        Word(w, start + 0.3 * k, start + 0.3 * k + 0.25, 0.9) for k, w in enumerate(text.split())
    )
    return Segment(start, start + 0.3 * len(words), text, words=words)


def test_hindi_romanized_as_people_type_it() -> None:
    hindi = Transcript(
        "hi",
        (
            _segment("राहुल, तुम कल शाम कहाँ थे?", 0.0),
            _segment("मैं अपने दोस्त की शादी में गया था।", 3.0),
            _segment("नहीं, वे यहाँ हैं।", 6.0),
        ),
    )
    latin = romanize(hindi)
    assert [s.text for s in latin.segments] == [
        "Rahul, tum kal sham kahan the?",
        "Main apne dost ki shadi men gaya tha.",
        "Nahin, ve yahan hain.",
    ]
    for before, after in zip(hindi.segments, latin.segments, strict=True):
        assert [(w.start, w.end) for w in before.words] == [(w.start, w.end) for w in after.words]
        assert " ".join(w.word for w in after.words) == after.text


def test_other_languages_and_scripts() -> None:
    english = Transcript("en", (_segment("Hello there.", 0.0),))
    assert romanize(english) is english
    assert romanize(Transcript("ta", (_segment("வணக்கம் நண்பா", 0.0),))).segments[0].text == (
        "Vanakkam nanpa"
    )
    check_script("latin")
    with pytest.raises(ScriptError, match="unknown script 'cyrillic'"):
        check_script("cyrillic")
