"""Line breaks as a subtitler places them: after punctuation, before a conjunction or a
preposition; never inside a phrase that reads as one (article and noun, first and last name,
pronoun and verb); no one-word line where another break fits."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from itertools import pairwise

__all__ = [
    "NO_SPACE_LANGUAGES",
    "break_cost",
    "break_lines",
    "joiner",
    "line_length",
    "splits_phrase",
]

# Languages written without spaces between words: Whisper's words are joined directly.
NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "yue"})

_PUNCTUATION_END = (
    ",",
    ";",
    ":",
    ".",
    "?",
    "!",
    "।",
    "…",
    "\u2014",
    "\u2013",
    ")",
    '"',
    "»",
    "、",
    "。",
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that lead into what follows (a break after them splits a phrase), and words that open
# a new phrase (a break before them reads naturally), per language.
_BINDS_FORWARD: dict[str, frozenset[str]] = {
    "en": _words(
        "a an the this that these those my your his her its our their of to in on at for "
        "with from by as into onto about than i you he she we they it's i'm you're we're "
        "they're don't can't won't isn't mr. mrs. ms. dr. st. very so not no"
    ),
    "hi": _words("यह वह ये वे मेरा मेरी मेरे तुम्हारा तुम्हारी उसका उसकी एक बहुत"),
}
_OPENS: dict[str, frozenset[str]] = {
    "en": _words(
        "and but or nor because although though while when where which who that if so "
        "until unless since after before to of in on at for with from by about"
    ),
    "hi": _words("और लेकिन पर मगर कि या तो जब अगर क्योंकि जो"),
}
# Words that close the phrase before them (Hindi postpositions): never first on a line.
_BINDS_BACK: dict[str, frozenset[str]] = {
    "hi": _words("का की के को में से पर ने तक है हैं था थी थे हूँ हो"),
}


def joiner(language: str | None) -> str:
    return "" if _base(language) in NO_SPACE_LANGUAGES else " "


def line_length(words: Sequence[str], language: str | None) -> int:
    return len(joiner(language).join(words))


def _base(language: str | None) -> str:
    return (language or "").split("-")[0].lower()


def _bare(word: str) -> str:
    return word.strip("\"'\u201c\u201d\u2018\u2019«»()[]¿¡").lower()


def _is_name(word: str) -> bool:
    return word[:1].isupper() and not word.endswith(_PUNCTUATION_END)


def break_cost(
    before: str, after: str, language: str | None, sentence_start: bool = False
) -> float:
    """How bad a break between ``before`` and ``after`` reads: 0 after a sentence's end, low
    after other punctuation or before a word that opens a phrase, high inside one."""
    lang = _base(language)
    if before.endswith((".", "?", "!", "।", "…", "。")):
        return 0.0
    if before.endswith(_PUNCTUATION_END):
        return 1.0
    cost = 4.0
    if _bare(after) in _OPENS.get(lang, frozenset()):
        cost = 2.0
    if _bare(before) in _BINDS_FORWARD.get(lang, frozenset()):
        cost = 12.0
    if _bare(after) in _BINDS_BACK.get(lang, frozenset()):
        cost = 12.0
    if (
        lang not in NO_SPACE_LANGUAGES
        and _is_name(after)
        and _is_name(before)
        and not sentence_start
    ):
        cost = max(cost, 10.0)  # first and last name
    return cost


_BINDING = 10.0  # a break_cost at or above this splits a phrase (article, first name)


def splits_phrase(lines: Sequence[str], language: str | None) -> bool:
    """Whether a line of ``lines`` ends on a word that leads into the next line's first (the
    line-break rule a QC check fails)."""
    split = [line.split() for line in lines]
    return any(
        a and b and break_cost(a[-1], b[0], language) >= _BINDING for a, b in pairwise(split)
    )


def break_lines(
    words: Sequence[str], max_chars: int, max_lines: int, language: str | None
) -> tuple[tuple[str, ...], float] | None:
    """The best way to show ``words`` in at most ``max_lines`` lines of ``max_chars``, and
    its cost; None when they do not fit. One line when it fits (Netflix: a second line only
    when needed); otherwise balanced lines broken where they read best."""
    glue = joiner(language)
    if not words:
        return (), 0.0
    if len(glue.join(words)) <= max_chars:
        return (glue.join(words),), 0.0
    plan = _best_breaks(words, max_chars, max_lines, language)
    if plan is None:
        return None
    cost, ends = plan
    starts = (0, *ends[:-1])
    return tuple(glue.join(words[a:b]) for a, b in zip(starts, ends, strict=True)), cost


def _best_breaks(
    words: Sequence[str], max_chars: int, max_lines: int, language: str | None
) -> tuple[float, tuple[int, ...]] | None:
    """The cheapest line ends for ``words``, each line near the balanced width."""
    glue, n = joiner(language), len(words)
    total = len(glue.join(words))
    target = total / max(2, -(-total // max_chars))  # the width of balanced lines

    @cache
    def best(i: int, lines_left: int) -> tuple[float, tuple[int, ...]] | None:
        """Breaks for words[i:] in up to ``lines_left`` lines: (cost, end of each line)."""
        rest_width = len(glue.join(words[i:]))
        if rest_width <= max_chars:
            return abs(rest_width - target) / max_chars * 3.0, (n,)
        if lines_left <= 1:
            return None
        found: tuple[float, tuple[int, ...]] | None = None
        for j in range(i + 1, n):
            width = len(glue.join(words[i:j]))
            if width > max_chars:
                break
            rest = best(j, lines_left - 1)
            if rest is None:
                continue
            cost = break_cost(words[j - 1], words[j], language) + rest[0]
            cost += abs(width - target) / max_chars * 3.0  # balanced lines read more easily
            if j - i == 1 or n - j == 1:
                cost += 6.0  # a one-word line
            if found is None or cost < found[0]:
                found = cost, (j, *rest[1])
        return found

    return best(0, max_lines)
