"""The Composition's human-readable XHTML: built as a tree, so record text can only ever be text.

Every string the record, a model or a case file contributed (statement text, table cells, section
titles and errors, open questions, the board question) is untrusted. Rather than concatenate
escaped strings, the narrative is built with `xml.etree.ElementTree`: such a string is only ever
an element's text or tail, and the serializer escapes ``&``, ``<`` and ``>`` itself, so a statement
reading ``<script>alert(1)</script>`` is shown as those characters and is no element. Before that,
`plain` makes each value one visible line: control, bidi and other format characters become
visible escapes (`medboard.textsafety.neutralize`; XML 1.0 cannot even carry most C0 controls),
and so do the two non-characters XML forbids (U+FFFE, U+FFFF).

Only medboard's own structure is markup: lists for statements, a table for a table section, a
verdict mark in bold at the start of each statement (record text cannot reach that position or
make bold), the citations in ``<small>``. Image-frame citations are named here because they are
not FHIR resources and so cannot be a section's entries. Only elements and attributes that FHIR
narrative allows are used (txt-1); `check_xhtml` proves it on the serialized text before anything
is sent, since fhir.resources accepts any string as a narrative.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence

from medboard.models import CaseSummary, Discrepancy, EvidenceRef, Section, Statement
from medboard.textsafety import neutralize

XHTML_NS = "http://www.w3.org/1999/xhtml"

#: The elements medboard's narratives use: a subset of what FHIR narrative allows (txt-1).
ALLOWED_ELEMENTS = frozenset({"div", "p", "b", "small", "ul", "li", "table", "tr", "th", "td", "br"})
#: Attributes medboard's narratives use (FHIR forbids scripting attributes; these are plain).
ALLOWED_ATTRIBUTES = frozenset({"id"})

_VERDICT_MARKS = {
    "supported": "✓ supported",
    "unsupported": "✗ unsupported",
    "contradicted": "✗✗ contradicted",
    "unverifiable": "? unverifiable",
}
_XML_NONCHARACTERS = re.compile("[\ufffe\uffff]")
#: How many FHIR references a statement's narrative shows (all of them are the sub-section's entries).
MAX_SHOWN_REFERENCES = 4


def plain(value: object, *, empty: str = "(empty)") -> str:
    """`value` as one line of visible text: controls, bidi and format characters shown as escapes,
    whitespace runs collapsed, characters XML cannot carry escaped; `empty` when nothing is left."""
    text = neutralize(str(value))
    text = _XML_NONCHARACTERS.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
    text = " ".join(text.split())
    return text or empty


def new_div() -> ET.Element:
    """A narrative's root: ``<div xmlns="http://www.w3.org/1999/xhtml">``."""
    return ET.Element("div", {"xmlns": XHTML_NS})


def add(parent: ET.Element, tag: str, text: str | None = None, *, id: str | None = None) -> ET.Element:
    """Append a child element holding `text` (escaped by the serializer; never parsed as markup)."""
    child = ET.SubElement(parent, tag, {"id": id} if id else {})
    if text is not None:
        child.text = text
    return child


def append_text(parent: ET.Element, text: str) -> None:
    """Append text after `parent`'s last child (or as its text when it has none)."""
    children = list(parent)
    if children:
        children[-1].tail = (children[-1].tail or "") + text
    else:
        parent.text = (parent.text or "") + text


def serialize(div: ET.Element) -> str:
    return ET.tostring(div, encoding="unicode")


def verdict_mark(statement: Statement) -> str:
    return _VERDICT_MARKS[statement.verdict.verdict.value] if statement.verdict else "unchecked"


def image_label(ref: EvidenceRef) -> str:
    label = f"image {ref.series}, frame {ref.frame}"
    if ref.box:
        label += f", box [{', '.join(str(v) for v in ref.box)}]"
    return label


def citation_text(evidence: Iterable[EvidenceRef]) -> str | None:
    """ "Sources: Observation/a, Observation/b (+3 more); image ct, frame 12" or None without any."""
    refs = list(evidence)
    fhir = list(dict.fromkeys(r.reference for r in refs if r.kind == "fhir"))
    images = list(dict.fromkeys(image_label(r) for r in refs if r.kind == "image"))
    parts: list[str] = []
    if fhir:
        shown = ", ".join(fhir[:MAX_SHOWN_REFERENCES])
        if len(fhir) > MAX_SHOWN_REFERENCES:
            shown += f" (+{len(fhir) - MAX_SHOWN_REFERENCES} more, listed as this section's entries)"
        parts.append(shown)
    parts.extend(plain(label) for label in images)
    return "Sources: " + "; ".join(parts) if parts else None


def _statement_item(parent: ET.Element, statement: Statement, anchor: str) -> None:
    item = add(parent, "li", id=anchor)
    add(item, "b", f"[{verdict_mark(statement)}]")
    append_text(item, " " + plain(statement.text))
    cited = citation_text(statement.evidence)
    if cited:
        append_text(item, " ")
        add(item, "small", f"({cited})")


def table_rows(section: Section) -> list[Statement]:
    """The statements that are rows of the section's table (their cells match its columns)."""
    width = len(section.columns or [])
    return [st for st in section.statements if st.cells is not None and len(st.cells) == width]


def section_div(section: Section, anchors: list[str]) -> str:
    """A summary section as XHTML: status, the statements (table rows as a table), open questions.

    `anchors[i]` is the element id of `section.statements[i]`: its list item or table row here,
    and its nested Composition sub-section.
    """
    anchor = {id(st): name for st, name in zip(section.statements, anchors, strict=True)}
    div = new_div()
    if section.status in ("failed", "degraded"):
        status = add(div, "p")
        add(status, "b", f"Section {section.status}.")
        if section.error:
            append_text(status, " " + plain(section.error))
    elif section.error:
        add(div, "p", plain(section.error))
    rows = table_rows(section) if section.columns else []
    if rows:
        table = add(div, "table")
        header = add(table, "tr")
        for heading in ["Verdict", *(plain(c, empty="–") for c in section.columns or []), "Sources"]:
            add(header, "th", heading)
        for st in rows:
            row = add(table, "tr", id=anchor[id(st)])
            add(row, "td", verdict_mark(st))
            for cell in st.cells or []:
                add(row, "td", plain(cell, empty="–") if cell is not None else "–")
            add(row, "td", citation_text(st.evidence) or "–")
    in_table = {id(st) for st in rows}
    listed = [st for st in section.statements if id(st) not in in_table]
    if listed:
        items = add(div, "ul")
        for st in listed:
            _statement_item(items, st, anchor[id(st)])
    if not section.statements:
        add(div, "p", "No statements in this section.")
    if section.open_questions:
        add(div, "p", "Not in the record:")
        questions = add(div, "ul")
        for question in section.open_questions:
            add(questions, "li", plain(question))
    return serialize(div)


def check_xhtml(text: str) -> str | None:
    """Why `text` is not a narrative medboard may send (not well-formed, not one XHTML ``div``,
    an element or attribute outside the allowed set, no text), or None when it is fine."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        return f"the narrative is not well-formed XML ({error})"
    prefix = "{" + XHTML_NS + "}"
    if root.tag != prefix + "div":
        return "the narrative's root is not an XHTML div"
    for element in root.iter():
        if not element.tag.startswith(prefix) or element.tag[len(prefix) :] not in ALLOWED_ELEMENTS:
            return f"the narrative holds a {element.tag.removeprefix(prefix)!r} element"
        stray = set(element.attrib) - ALLOWED_ATTRIBUTES
        if stray:
            return f"the narrative holds an attribute {sorted(stray)[0]!r}"
    if not "".join(root.itertext()).strip():
        return "the narrative has no text (txt-2)"
    return None


def discrepancies_div(discrepancies: Sequence[Discrepancy], anchors: list[str]) -> str:
    """The summary's discrepancies: severity, kind, description and every side's source."""
    div = new_div()
    items = add(div, "ul")
    for discrepancy, anchor in zip(discrepancies, anchors, strict=True):
        item = add(items, "li", id=anchor)
        add(item, "b", f"[{plain(discrepancy.severity)}] {plain(discrepancy.kind)}:")
        append_text(item, " " + plain(discrepancy.description))
        cited = citation_text(discrepancy.sources)
        if cited:
            append_text(item, " ")
            add(item, "small", f"({cited})")
    return serialize(div)


def composition_div(summary: CaseSummary, *, title: str, date: str, statements: int, sections: int) -> str:
    """The Composition's own narrative: what this is (an unreviewed AI draft), the disclaimer,
    the board question, and what was left out."""
    div = new_div()
    add(div, "p").append(_bold(title))
    status = add(div, "p")
    add(status, "b", "Preliminary: drafted by AI, not reviewed by a clinician.")
    model = summary.run.model
    author = f"medboard {plain(summary.run.medboard_version)}"
    author += (
        f" with the model {plain(model.name)}" if model else " without a model (deterministic templates)"
    )
    append_text(status, f" Written by {author} on {date}.")
    add(div, "p", plain(summary.disclaimer))
    if summary.question:
        question = add(div, "p")
        add(question, "b", "Board question:")
        append_text(question, " " + plain(summary.question))
    counts = (
        f"{statements} statement(s) in {sections} section(s), each marked with the verifier's verdict "
        "and citing the record."
    )
    if summary.struck:
        counts += f" {len(summary.struck)} statement(s) the verifier could not support were left out."
    add(div, "p", counts)
    return serialize(div)


def _bold(text: str) -> ET.Element:
    element = ET.Element("b")
    element.text = text
    return element


def one_paragraph_div(text: str) -> str:
    """A one-paragraph narrative (Device, Provenance): `text` is medboard's own sentence."""
    div = new_div()
    add(div, "p", plain(text))
    return serialize(div)
