"""Unicode folding applied to statement and evidence text before every textual check.

A hand-edited statement can dodge the regex checks by writing a stage, a marker or a word with
look-alike code points: "Stage IІB" with a Cyrillic `І` (U+0406), "ΙΙΒ" in Greek capitals, "Ⅱ"
(U+2161 ROMAN NUMERAL TWO), fullwidth digits "４７", or a zero-width space inside "II\u200bB".
`skeleton(text)` removes that freedom:

1. NFKC (compatibility composition): fullwidth forms, Roman numeral code points, mathematical
   alphanumerics, ligatures and superscripts become their plain equivalents ("Ⅱ" → "II",
   "４７" → "47", "ﬁ" → "fi").
2. Format characters (Unicode category Cf: zero-width space/joiners, soft hyphen, bidi marks,
   tags; the list in `_FORMAT_RANGES`) are dropped: they render as nothing and only split words.
3. `CONFUSABLES`: the Cyrillic and Greek letters that render like Latin letters in common fonts,
   mapped to the Latin letter (a small subset of Unicode's confusables.txt, the part that can
   spell the words, stages and markers the checks read). Unicode dashes and minus become "-".

Why a table rather than a library: the PyPI packages (`confusable-homoglyphs`, `confusables`)
answer "is this string confusable / which strings match", not "give me the Latin skeleton", and
ship all of confusables.txt (CJK radicals, symbols) whose mappings would also rewrite legitimate
text. The table below is what the verifier needs, reviewable at a glance. Characters it does not
map stay as they are; the checks then treat a word containing them as an unknown word (the
statement stays unverifiable), so an unmapped look-alike can no longer make a claim invisible.

Linear in the input: one NFKC pass, one `str.translate`.
"""

from __future__ import annotations

import unicodedata

# Cyrillic → Latin (capitals and small letters that look alike in common fonts).
_CYRILLIC = {
    "А": "A", "В": "B", "С": "C", "Е": "E", "Н": "H", "І": "I", "Ј": "J", "К": "K", "М": "M",
    "О": "O", "Р": "P", "Ѕ": "S", "Т": "T", "Х": "X", "У": "Y", "Ү": "Y", "Ԁ": "D", "Ԛ": "Q",
    "Ԝ": "W", "Ӏ": "I", "Ⅰ": "I",
    "а": "a", "с": "c", "е": "e", "һ": "h", "і": "i", "ј": "j", "к": "k", "о": "o", "р": "p",
    "ѕ": "s", "х": "x", "у": "y", "ү": "y", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ѵ": "v",
    "ɡ": "g",
}  # fmt: skip
# Greek → Latin.
_GREEK = {
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C", "Ϳ": "J",
    "α": "a", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
    "ϲ": "c", "ϳ": "j",
}  # fmt: skip
# Latin look-alikes outside ASCII that NFKC keeps, and dashes/minus signs.
_OTHER = {
    "ı": "i", "ȷ": "j", "ℓ": "l", "ǀ": "l", "ꓲ": "I", "Ɩ": "l",
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-", "﹣": "-", "－": "-",
    "′": "'", "’": "'", "‘": "'",
}  # fmt: skip

#: The documented look-alike table (character → Latin replacement).
CONFUSABLES: dict[str, str] = {**_CYRILLIC, **_GREEK, **_OTHER}
_TABLE = str.maketrans(dict(CONFUSABLES.items()))
_DASHES = str.maketrans(dict(_OTHER.items()))


# Format characters (category Cf) that render as nothing and only serve to split a word: soft
# hyphen, Arabic letter mark, Mongolian vowel separator, zero-width space/joiners, bidi marks and
# overrides, word joiner and invisible operators, bidi isolates, BOM, interlinear annotation
# marks, tag characters. Deleted with one `str.translate` (a per-character category lookup in
# Python cost more than all the checks on a long text).
_FORMAT_RANGES = (
    (0x00AD, 0x00AD), (0x061C, 0x061C), (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)  # fmt: skip
_DROP_FORMAT = {code: None for lo, hi in _FORMAT_RANGES for code in range(lo, hi + 1)}
assert all(unicodedata.category(chr(c)) == "Cf" for c in _DROP_FORMAT)


def skeleton(text: str) -> str:
    """`text` with compatibility forms, invisible format characters and Latin look-alikes folded.

    ASCII text is returned unchanged (the common case costs one scan). The result can be shorter
    than the input (format characters dropped, ligatures expanded the other way): callers that
    keep character offsets must take them from the folded text.
    """
    if text.isascii():
        return text
    folded = unicodedata.normalize("NFKC", text)
    if not folded.isascii():
        folded = folded.translate(_DROP_FORMAT).translate(_TABLE)
    return folded


def was_folded(original: str, folded: str) -> bool:
    """True when `skeleton` changed letters or digits (not only dashes): worth a note in the checks."""
    return original != folded and original.translate(_DASHES) != folded
