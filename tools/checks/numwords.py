"""English numbers written in words: "seven", "forty-seven", "one hundred and five", "twelve point five".

A number in words dodged every numeric check ("Assay: seven" against a recorded 47 stayed
unverifiable); `word_numbers(text)` finds them so the quantity extractor can compare them like
digits. Hand-written rather than a dependency: the PyPI parsers (`word2number`, unmaintained since
2017; `text2num`, several languages) either raise on non-numbers or rewrite whole texts, while the
verifier needs spans, a strict well-formedness rule ("five six" is not a number) and linear time.
English only; ordinals ("second") and vague words ("several", "a few") are not numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000}
_DIGIT_WORDS = {**_UNITS, "oh": 0}
_WORD = "|".join(sorted([*_UNITS, *_TEENS, *_TENS, *_SCALES], key=len, reverse=True))
_PHRASE_RE = re.compile(
    rf"\b(?P<int>(?:{_WORD})(?:(?:[\s-]+|\s+and\s+)(?:{_WORD}))*)"
    rf"(?:\s+point(?P<frac>(?:\s+(?:{'|'.join(_DIGIT_WORDS)}))+))?\b",
    re.I,
)


def parse_integer(words: list[str]) -> int | None:
    """The value of a well-formed English integer, or None ("five six", "hundred", "twenty twelve")."""
    total, current, last = 0, 0, None  # last: the kind of the previous word
    for word in words:
        if word in _UNITS:
            if last in {"unit", "teen"} or (last == "ten" and _UNITS[word] == 0):
                return None
            if last == "unit" or (current % 10 and last != "scale"):
                return None
            current += _UNITS[word]
            last = "unit"
        elif word in _TEENS:
            if last in {"unit", "teen", "ten"}:
                return None
            current += _TEENS[word]
            last = "teen"
        elif word in _TENS:
            if last in {"unit", "teen", "ten"}:
                return None
            current += _TENS[word]
            last = "ten"
        elif word == "hundred":
            if not 1 <= current <= 9 or last == "hundred":
                return None
            current *= 100
            last = "hundred"
        elif word in _SCALES:
            scale = _SCALES[word]
            if not 1 <= current < 1000 or (total and total < scale * 1000 and total % (scale * 1000) < scale):
                return None
            total += current * scale
            current = 0
            last = "scale"
        else:
            return None
    if last is None:
        return None
    return total + current


def word_numbers(text: str) -> Iterator[tuple[tuple[int, int], float, str]]:
    """(span, value, digits as written) for each well-formed number in words in `text`."""
    for m in _PHRASE_RE.finditer(text):
        words = [w for w in re.split(r"[\s-]+", m["int"].lower()) if w and w != "and"]
        value = parse_integer(words)
        if value is None:
            continue
        digits = str(value)
        if m["frac"]:
            digits += "." + "".join(str(_DIGIT_WORDS[w]) for w in m["frac"].lower().split())
        yield m.span(), float(digits), digits
