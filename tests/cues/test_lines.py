"""Line breaks where a subtitler puts them."""

from __future__ import annotations

from cues import break_lines
from cues._lines import break_cost


def lines(text: str, width: int = 42, language: str = "en") -> tuple[str, ...]:
    found = break_lines(text.split(), width, 2, language)
    assert found is not None
    return found[0]


def test_one_line_when_it_fits() -> None:
    assert lines("Where were you last night?") == ("Where were you last night?",)


def test_breaks_after_punctuation_or_before_a_conjunction() -> None:
    assert lines("I waited for you at the station, until it was eleven at night.") == (
        "I waited for you at the station,",
        "until it was eleven at night.",
    )
    two = lines("I told him everything I knew and he still did not believe me")
    assert two[1].startswith("and ")


def test_never_between_article_and_noun_or_first_and_last_name() -> None:
    first, second = lines("We met Rahul Sharma at the old market near the big station")
    assert not first.endswith(("Rahul", "the")) and not second.startswith("Sharma")
    assert break_cost("the", "station", "en") > break_cost("station,", "the", "en")
    assert break_cost("Rahul", "Sharma", "en") > break_cost("market", "near", "en")


def test_no_one_word_line_where_another_break_fits() -> None:
    shown = lines("You have to listen to me carefully now because this matters, Ravi.")
    assert all(len(line.split()) > 1 for line in shown)


def test_hindi_postpositions_stay_with_their_noun() -> None:
    text = "मैं कल शाम को स्टेशन पर तुम्हारा इंतज़ार करता रहा लेकिन तुम नहीं आए"
    shown = lines(text, width=37, language="hi")
    assert len(shown) == 2
    assert shown[1].split()[0] not in {"को", "पर", "का", "की", "के", "में", "से"}


def test_none_when_the_words_cannot_fit() -> None:
    assert break_lines(["word"] * 40, 42, 2, "en") is None


def test_languages_without_spaces_join_directly() -> None:
    found = break_lines(["今日は", "いい", "天気"], 42, 2, "ja")
    assert found is not None and found[0] == ("今日はいい天気",)
