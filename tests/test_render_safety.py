"""summary.md keeps untrusted text inert: real flows on the Jenny M bundle, edited to carry hostile text.

Each payload is put where a hostile record, case file or model would put it (a patient name, a
condition display, a report conclusion, a medication text, a lab value, the board question, the
case id, a model's headline and answer, image file names). The produced Markdown is parsed with
markdown-it-py (CommonMark + GFM tables and strikethrough) and checked structurally: no raw HTML
but medboard's own (``<sub>`` citations, the appendix folded in one ``<details>`` block), no image
but medboard's ``images/*.png``, no link at all from record text, no control or bidi character, the
same headings and tables as the clean run with no cell a ``|`` could add, and every payload reached
the file as literal text.
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAIServer, chat_completion
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token
from test_case_flow import _enum_ids, schema_of

from medboard.api import run_case_sync
from medboard.models import CaseSummary
from medboard.report.escaping import EMPTY, MarkdownText, escape_markdown
from medboard.report.markdown import render_markdown
from medboard.textsafety import BIDI_CONTROLS, INVISIBLE, neutralize, neutralize_format

JENNY = Path(__file__).parents[1] / "medboard" / "examples" / "jenny-m"

# Families of hostile text, several variants each (not only the ones named in the issue).
HTML = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(document.cookie)</script>",
    '<a href="javascript:alert(1)">open</a>',
    "<details open ontoggle=alert(1)>",
    "<!-- hidden --><svg onload=alert(1)>",
]
IMAGES = [
    "![t](http://tracker.example/pixel.gif?id=42)",
    "![alt][px]\n\n[px]: https://tracker.example/p.png",
    "!<http://tracker.example/x.png>",
]
LINKS = [
    "[click](javascript:alert(1))",
    "<javascript:alert(1)>",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "[ref]\n\n[ref]: vbscript:msgbox",
    "<mailto:a@b.example>",
]
STRUCTURE = [
    "\n# Forged heading\n",
    "text\n===\nmore",
    "cell | forged | cells",
    "`code` ```fence",
    "\n> forged quote\n- forged item\n1. forged list\n",
    "***bold*** __strong__ ~~gone~~",
    "[✓ supported]",
    "    indented code",
    "---",
]
CONTROL = [
    "\x1b[31mred\x1b[0m",
    "bell\x07nul\x00",
    "\u202eevil\u202c",
    "\u2066isolate\u2069 \u200bzero-width",
    "\x9b31m c1-csi",
    "&#x202e;entity&#27;[2J",
    "cr\rline\r\nbreak",
    "tag\U000e0049\U000e0047\U000e004e smuggled \u206e shaping \u2028 separator",
]
PAYLOADS = HTML + IMAGES + LINKS + STRUCTURE + CONTROL
FAMILIES = {"html": HTML, "images": IMAGES, "links": LINKS, "structure": STRUCTURE, "control": CONTROL}
#: How many text fields `_hostile_case` fills (patient name … board question).
HOSTILE_FIELDS = 8


def payload_runs() -> list[tuple[str, list[str]]]:
    """Each family cut into runs of at most HOSTILE_FIELDS payloads, so every payload gets a field."""
    return [
        (f"{name}-{start // HOSTILE_FIELDS}", payloads[start : start + HOSTILE_FIELDS])
        for name, payloads in FAMILIES.items()
        for start in range(0, len(payloads), HOSTILE_FIELDS)
    ]


VERDICT_MARKS = {"✓ supported", "✗ unsupported", "✗✗ contradicted", "? unverifiable", "unchecked"}
#: medboard's own HTML: the citations' ``<sub>`` and the appendix, folded in ``<details>`` (its
#: opening line and its closing tag are HTML blocks of their own; the statements in it are Markdown).
OWN_HTML = {"<sub>", "</sub>", "</details>\n"}
DETAILS_OPEN = re.compile(
    r"<details><summary><b>Appendix</b> — \d+ more statement\(s\), kept in summary\.json</summary>\n"
)
PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
UNSAFE_CHARS = {chr(c) for c in list(range(0x00, 0x09)) + list(range(0x0B, 0x20)) + list(range(0x7F, 0xA0))}
UNSAFE_CHARS |= BIDI_CONTROLS | INVISIBLE | {"\u2028", "\u2029"}
UNSAFE_CHARS |= {
    chr(c) for c in [*range(0x80, 0x30000), *range(0xE0000, 0xE1000)] if unicodedata.category(chr(c)) == "Cf"
}


def _literal(text: str) -> str:
    """How escaped text must read once rendered: neutralized, whitespace collapsed to one line."""
    flat = " ".join(neutralize_format(neutralize(text.replace("\r\n", "\n").replace("\r", "\n"))).split())
    return flat or EMPTY


def _walk(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from _walk(token.children)


def _own_html(tokens: list[Token]) -> list[str]:
    """The raw HTML of `tokens`, asserted to be medboard's own; the appendix's opening line is
    returned as ``<details>`` (its count of statements differs from run to run)."""
    html = [t.content for t in tokens if t.type in ("html_inline", "html_block")]
    assert all(h in OWN_HTML or DETAILS_OPEN.fullmatch(h) for h in html), html
    return ["<details>" if DETAILS_OPEN.fullmatch(h) else h for h in html]


def _pipes(line: str) -> int:
    """Column separators of a table line: the ``|`` no backslash escapes."""
    count, escaped = 0, False
    for char in line:
        count += char == "|" and not escaped
        escaped = char == "\\" and not escaped
    return count


def _tables(markdown: str, tokens: list[Token]) -> list[list[str]]:
    """Each table's header cells, after asserting that no row has a column its header has not
    (GFM drops a row's extra cells silently: the source lines are counted, not the cells)."""
    lines = markdown.splitlines()
    out = []
    for i, token in enumerate(tokens):
        if token.type != "table_open":
            continue
        assert token.map is not None
        start, end = token.map
        rows = lines[start:end]
        assert all(_pipes(row) == _pipes(rows[0]) for row in rows), rows
        header = []
        for t in tokens[i:]:
            if t.type == "thead_close":
                break
            if t.type == "inline":
                header.append(t.content)
        out.append(header)
    return out


def _check_inert(markdown: str, clean: str) -> list[Token]:
    """The structural checks every summary.md must pass; returns the parsed tokens."""
    assert not UNSAFE_CHARS & set(markdown), "control/bidi characters in summary.md"
    tokens = list(_walk(PARSER.parse(markdown)))
    html = _own_html(tokens)
    for image in (t for t in tokens if t.type == "image"):
        src = str(image.attrs["src"])
        assert src.startswith("images/") and src.endswith(".png") and "/" not in src[7:], src
    assert [t for t in tokens if t.type == "link_open"] == []
    reference = list(_walk(PARSER.parse(clean)))
    for kind in ("heading_open", "blockquote_open"):
        assert [t.tag for t in tokens if t.type == kind] == [t.tag for t in reference if t.type == kind], kind
    # medboard's own blocks, as in the clean run: the appendix's <details>, the sections' tables
    assert [h for h in html if h not in ("<sub>", "</sub>")] == [
        h for h in _own_html(reference) if h not in ("<sub>", "</sub>")
    ]
    assert _tables(markdown, tokens) == _tables(clean, reference)
    assert not [t for t in tokens if t.type in ("code_block", "fence", "hr")]
    return tokens


def _text_of(tokens: list[Token]) -> str:
    return "".join(t.content for t in tokens if t.type == "text")


def _cells(tokens: list[Token]) -> list[str]:
    """The text of every table cell (`tokens` as `_walk` lists them: an inline's children follow it)."""
    out, inside = [], False
    for token in tokens:
        if token.type in ("th_open", "td_open"):
            inside = True
            out.append("")
        elif token.type in ("th_close", "td_close"):
            inside = False
        elif inside and token.type == "text":
            out[-1] += token.content
    return out


def _hostile_case(tmp_path: Path, payloads: list[str]) -> tuple[Path, dict[str, str]]:
    """A copy of Jenny M whose text fields carry `payloads` (each tagged so it can be found)."""
    bundle = json.loads((JENNY / "bundle.json").read_text())
    placed: dict[str, str] = {}
    cycle = itertools.cycle(payloads)

    def carry(tag: str) -> str:
        payload = next(cycle)
        placed[tag] = payload
        return f"{tag} {payload}"

    for entry in bundle["entry"]:
        resource = entry["resource"]
        rid = resource["id"]
        if resource["resourceType"] == "Patient":
            resource["name"][0]["given"] = [carry("PATIENTNAME")]
        elif rid == "primary-cancer-condition-jenny-m":
            resource["code"]["coding"][0]["display"] = carry("CONDITION")
        elif rid.startswith("tumor-marker-test-er"):
            concept = resource["valueCodeableConcept"]
            concept["text"] = concept["coding"][0]["display"] = carry("ERVALUE")
        elif rid.endswith("anastrozole-jenny-m"):
            # A medication is stated by its ingredient (the clinical picture's name, normalised from
            # this text), not quoted: hostile text here is checked for inertness only.
            concept = resource["medicationCodeableConcept"]
            concept["text"] = concept["coding"][0]["display"] = f"anastrozole {payloads[0]}"
        elif rid == "us-core-observation-lab-tumor-margins-jenny-m":
            concept = resource["valueCodeableConcept"]
            concept["text"] = concept["coding"][0]["display"] = carry("LABVALUE")
        elif rid == "cancer-related-surgical-procedure-jenny-m":
            resource["code"]["text"] = resource["code"]["coding"][0]["display"] = carry("PROCEDURE")
    report = {
        "resourceType": "DiagnosticReport",
        "id": "hostile-report",
        "status": "final",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}
        ],
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "24606-6", "display": "MG Breast Screening"}]
        },
        "subject": {"reference": "Patient/cancer-patient-jenny-m"},
        "effectiveDateTime": "2018-03-01",
        "conclusion": carry("CONCLUSION"),
    }
    bundle["entry"].append({"fullUrl": "DiagnosticReport/hostile-report", "resource": report})
    case = tmp_path / "hostile"
    case.mkdir(parents=True)
    (case / "bundle.json").write_text(json.dumps(bundle))
    spec = {"id": carry("CASEID"), "record": "bundle.json", "question": carry("QUESTION")}
    (case / "case.yaml").write_text(_yaml_text(spec), encoding="utf-8")
    return case / "case.yaml", placed


def _yaml_text(spec: dict[str, str]) -> str:
    """`spec` as YAML that reads back exactly: JSON (a YAML subset) with characters beyond the BMP
    written raw (PyYAML reads a JSON surrogate-pair escape as two lone surrogates) and the C1
    range and line separators escaped (PyYAML refuses the one raw and folds the other)."""
    text = json.dumps(spec, ensure_ascii=False)
    return re.sub("[\x7f-\x9f\u2028\u2029]", lambda m: f"\\u{ord(m.group(0)):04x}", text)


@pytest.fixture(scope="module")
def clean_markdown() -> str:
    return render_markdown(run_case_sync(JENNY / "case.yaml", model="none"))


def test_the_real_summary_keeps_its_structure(clean_markdown: str) -> None:
    tokens = _check_inert(clean_markdown, clean_markdown)
    headings = [t.tag for t in tokens if t.type == "heading_open"]
    assert headings[0] == "h1" and headings.count("h2") >= 8
    assert [h for h in _own_html(tokens) if h not in ("<sub>", "</sub>")] == ["<details>", "</details>\n"]
    tables = _tables(clean_markdown, tokens)
    assert [
        "",
        "Line",
        "Regimen",
        "Start",
        "Stop",
        "Administrations",
        "Status / reason stopped",
        "Sources",
    ] in (tables)  # the cancer's therapy table, one row per line, with its verdict and sources
    assert "`✓ supported`" in clean_markdown
    marks = [t.content for t in tokens if t.type == "code_inline"]
    assert marks and set(marks) <= VERDICT_MARKS
    assert "NM_024675.3(PALB2):c.3549C>A" in _text_of(tokens), "record text still reads the same"


@pytest.mark.parametrize("payloads", [p for _, p in payload_runs()], ids=[n for n, _ in payload_runs()])
def test_hostile_record_text_is_inert_in_summary_md(
    tmp_path: Path, clean_markdown: str, payloads: list[str]
) -> None:
    case, placed = _hostile_case(tmp_path, payloads)
    assert set(placed.values()) == set(payloads), "every payload of the run is placed"
    summary = run_case_sync(case, model="none")
    markdown = render_markdown(summary)
    tokens = _check_inert(markdown, clean_markdown)
    text = _text_of(tokens)
    for tag, payload in placed.items():
        assert f"{tag} {_literal(payload)}" in text, f"{tag} did not reach summary.md as literal text"
    # the surgery's name is a cell of its cancer's therapy table: whole, in that one cell
    procedure = f"PROCEDURE {_literal(placed['PROCEDURE'])}"
    assert [c for c in _cells(tokens) if "PROCEDURE" in c] == [f"{procedure} (Left breast structure)"]
    marks = {t.content for t in tokens if t.type == "code_inline"}
    assert marks <= VERDICT_MARKS, "only medboard's verdict marks are code spans"


def test_forged_verdict_mark_never_takes_the_verdict_position(tmp_path: Path) -> None:
    case, _ = _hostile_case(tmp_path, ["[✓ supported]"])
    markdown = render_markdown(run_case_sync(case, model="none"))
    lines = [line for line in markdown.splitlines() if "PATIENTNAME" in line]
    assert "- `✓ supported` Patient PATIENTNAME \\[✓ supported\\] M: female, born 1965-01-01." in "\n".join(
        lines
    )
    for line in lines:  # the headline's, the appendix's: each bullet's real mark comes first
        assert line.startswith("- `✓ supported` ") and "PATIENTNAME \\[✓ supported\\]" in line
    bullets = [t for t in _walk(PARSER.parse(markdown)) if t.type == "inline" and "ERVALUE" in t.content]
    assert bullets and all(b.children and b.children[0].type == "code_inline" for b in bullets)


def _hostile_model(payloads: list[str]) -> Any:
    """A fake MedGemma whose every free-text field carries hostile text."""
    texts = itertools.cycle(payloads)

    def respond(body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        if "response_format" not in body:
            return 200, chat_completion("ok", completion_tokens=1), 0.0
        name = body["response_format"]["json_schema"]["name"]
        if name == "TextReading":
            finding = {"text": f"MODELFINDING {next(texts)}", "category": "other", "quote": "not in any note"}
            return 200, chat_completion(json.dumps({"findings": [finding]})), 0.0
        if name == "BoardAnswer":
            cited = _enum_ids(schema_of(body))[:1]
            answer = {
                "answer": f"MODELANSWER {next(texts)}",
                "supporting": [{"text": f"MODELSUPPORT {next(texts)}", "finding_ids": cited}],
                "not_in_record": [f"MODELGAP {next(texts)}"],
            }
            return 200, chat_completion(json.dumps(answer)), 0.0
        if name == "BoardHeadline":
            ids = _enum_ids(
                schema_of(body)
            )  # every listed finding cited: nothing a headline needs is missing
            chunks = [ids[i : i + 8] for i in range(0, min(len(ids), 64), 8)]
            statements = [{"text": f"MODELHEADLINE {next(texts)}", "finding_ids": c} for c in chunks]
            return 200, chat_completion(json.dumps({"statements": statements})), 0.0
        if name == "EntailmentJudgement":
            return (
                200,
                chat_completion(json.dumps({"label": "neutral", "reason": f"MODELWHY {next(texts)}"})),
                0.0,
            )
        return 400, {"error": {"message": f"unexpected schema {name}"}}, 0.0

    return respond


@pytest.mark.parametrize(
    "family", [HTML + IMAGES, LINKS + CONTROL, STRUCTURE], ids=["html-images", "links-control", "structure"]
)
def test_hostile_model_text_is_inert_in_summary_md(family: list[str]) -> None:
    with FakeOpenAIServer(_hostile_model(family), models=["fake-model"]) as server:
        summary = run_case_sync(
            JENNY / "case.yaml", model=server.base_url, model_overrides={"model": "fake-model"}
        )
    markdown = render_markdown(summary)
    clean = render_markdown(_without_model_text(summary))
    tokens = _check_inert(markdown, clean)
    text = _text_of(tokens)
    assert "MODELANSWER" in text and "MODELSUPPORT" in text and "MODELHEADLINE" in text  # reached the file
    assert "MODELGAP" not in markdown  # the model's "not in the record" is unverified: never shown


def _without_model_text(summary: CaseSummary) -> CaseSummary:
    """The same summary with every model-written string replaced by plain words (headings reference)."""
    data = json.loads(summary.model_dump_json())

    def scrub(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: scrub(v) for k, v in node.items()}
        if isinstance(node, list):
            return [scrub(v) for v in node]
        if isinstance(node, str) and "MODEL" in node:
            return "plain model text"
        return node

    return CaseSummary.model_validate(scrub(data))


def test_key_image_links_are_only_medboards_own_pngs(clean_markdown: str) -> None:
    summary = run_case_sync(JENNY / "case.yaml", model="none")
    names = [
        "series-1-frame3.png",
        "1.2.840.113619-frame0.png",
        "odd name (1).png",
        "x](javascript:alert(1)).png",
        "../../outside.png",
        "tracker.gif",
        "<img src=x onerror=alert(1)>.png",
    ]
    markdown = render_markdown(summary, images=names)
    tokens = list(_walk(PARSER.parse(markdown)))
    sources = [str(t.attrs["src"]) for t in tokens if t.type == "image"]
    assert sources[:2] == ["images/series-1-frame3.png", "images/1.2.840.113619-frame0.png"]
    assert "images/odd%20name%20%281%29.png" in sources
    assert all(s.startswith("images/") and "/" not in s[7:] and ":" not in s for s in sources)
    assert not any("outside" in s or "tracker" in s for s in sources)
    _own_html(tokens)
    assert [t for t in tokens if t.type == "link_open"] == []


def test_endpoint_credentials_never_reach_summary_md() -> None:
    summary = run_case_sync(JENNY / "case.yaml", model="none")
    data = json.loads(summary.model_dump_json())
    data["run"]["model"] = {"name": "m", "endpoint": "http://user:s3cret@host:8000/v1?token=abc"}
    markdown = render_markdown(CaseSummary.model_validate(data))
    assert "s3cret" not in markdown and "abc" not in markdown.split("## Run")[1]


# --- the escaper itself, in every position the template uses --------------------------------

CONTEXTS = [
    "- {x}",
    "## {x}",
    "# Case summary — {x}",
    "**Board question:** {x}",
    "| h |\n|---|\n| {x} |",
    "- ~~{x}~~ — reason",
    "> ⚠ {x}",
    "**Not in the record:**\n- {x}",
    "- `✓ supported` {x} <sub>Ref/1</sub>",
]
_PUNCTUATION = [*list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"), " ", "\n", "\t", "\r", "1", "a", "Z", "é"]
_HOSTILE_CHARS = [
    "\x00",
    "\x1b",
    "\x07",
    "\x9b",
    "\u202e",
    "\u2066",
    "\u200b",
    "\u00a0",
    "\u2028",
    "\U000e0041",
    "\u206e",
]
hostile_text = st.lists(st.sampled_from(_PUNCTUATION + _HOSTILE_CHARS), max_size=40).map("".join) | st.text(
    max_size=40
)


def _inline_children(source: str) -> list[tuple[str, str]]:
    return [(c.type, c.content) for t in PARSER.parse(source) if t.children for c in t.children]


@settings(max_examples=1500, deadline=None)
@given(text=hostile_text, context=st.sampled_from(CONTEXTS))
def test_escaped_text_renders_literally_in_every_template_position(text: str, context: str) -> None:
    """Any string, escaped, leaves the surrounding structure unchanged and reads back literally."""
    reference = PARSER.parse(context.format(x="PLACEHOLDER"))
    produced = PARSER.parse(context.format(x=escape_markdown(text)))
    assert [t.type for t in produced] == [t.type for t in reference]
    children = _inline_children(context.format(x=escape_markdown(text)))
    expected = _inline_children(context.format(x="PLACEHOLDER"))
    assert [kind for kind, _ in children] == [kind for kind, _ in expected]
    joined = "".join(content for _, content in children).strip()
    assert (
        joined == "".join(content for _, content in expected).replace("PLACEHOLDER", _literal(text)).strip()
    )


def test_escaping_keeps_ordinary_clinical_text_readable() -> None:
    assert escape_markdown("NM_024675.3(PALB2):c.3549C>A") == "NM_024675.3(PALB2):c.3549C&gt;A"
    assert escape_markdown("2018-04-12, 10*3/uL") == "2018-04-12, 10\\*3/uL"
    assert escape_markdown("   ") == EMPTY
    assert escape_markdown(MarkdownText("`✓ supported`")) == "`✓ supported`", "safe Markdown passes as is"


def test_a_value_the_template_forgot_to_filter_is_still_escaped(tmp_path: Path) -> None:
    """The environment's finalize escapes every {{ … }} that is not MarkdownText."""
    from jinja2 import Environment

    from medboard.report import markdown as module

    env = Environment(finalize=module._finalize)
    assert env.from_string("- {{ v }}").render(v="<img src=x> [a](javascript:x)") == (
        "- &lt;img src=x&gt; \\[a\\](javascript:x)"
    )


def test_summary_json_keeps_the_record_text_faithfully(tmp_path: Path) -> None:
    """JSON is the contract: text carried exactly; JSON string escaping makes control chars inert."""
    case, placed = _hostile_case(tmp_path, ["\x1b[31mred\x1b[0m \u202eevil"])
    summary = run_case_sync(case, model="none")
    dumped = summary.model_dump_json()
    assert "\x1b" not in dumped and "\\u001b" in dumped
    patient = next(s for s in summary.statements() if "PATIENTNAME" in s.text)
    assert placed["PATIENTNAME"] in patient.text, "the record's text, unchanged"
    reread = CaseSummary.model_validate_json(dumped)
    assert [s.text for s in reread.statements()] == [s.text for s in summary.statements()]
