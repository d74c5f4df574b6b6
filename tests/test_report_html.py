"""report.html without a browser: hostile text stays text, nothing external, every citation resolves.

The reports are real: cases run end to end with no model (Jenny M, a Synthea record, the brain MR
with its mask), and Jenny M carrying hostile text in the record, the question and the summary
(`report_support.hostile_case`). The HTML is parsed with the standard library's parser and checked
structurally: only medboard's own tags and attributes, no script, no event handler, no link but to
the report's own anchors, no picture but ``data:image/png``, one stylesheet with no ``url()``.
"""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from report_support import (
    AMP,
    ENDPOINT,
    HOSTILE_STATEMENT,
    NOTE_TEXT,
    ONERROR,
    SCRIPT,
    STRUCK_REASON,
    STRUCK_TEXT,
    SVG_ONLOAD,
    WARNING,
    Rendered,
    hostile_case,
    imaging_case,
    jenny_case,
    synthea_case,
)

from medboard.models import CaseSummary, EvidenceRef
from medboard.report.html import CSP, render_report
from medboard.report.html.evidence import WITHHELD, anchor, cited_references, displayed
from medboard.report.html.plots import UnsafeSvgError, checked_svg

# ----------------------------------------------------------------------------- parsing helpers

#: Every element medboard's template writes, and the SVG elements of matplotlib's drawings.
HTML_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "main", "footer", "nav", "section",
    "article", "details", "summary", "h1", "h2", "h3", "p", "dl", "dt", "dd", "div", "ol", "ul", "li",
    "span", "a", "table", "thead", "tbody", "tr", "th", "td", "code", "pre", "q", "del", "strong",
    "figure", "figcaption", "img",
}  # fmt: skip
SVG_TAGS = {"svg", "g", "defs", "path", "use", "clippath", "rect", "text", "tspan"}
URL_ATTRIBUTES = {"href", "src", "xlink:href", "action", "formaction", "srcset", "poster", "background"}


class Page(HTMLParser):
    """Every start tag with its attributes, the text of <style> elements, the data outside tags."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.styles: list[str] = []
        self.text: list[str] = []
        self._in_style = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)
        else:
            self.text.append(data)

    def ids(self) -> set[str]:
        return {attrs["id"] for _, attrs in self.tags if "id" in attrs}

    def hrefs(self) -> list[str]:
        return [attrs["href"] for tag, attrs in self.tags if tag == "a" and "href" in attrs]


def check_inert(html: str) -> Page:
    """The structural rules every report obeys; returns the parsed page."""
    page = Page(html)
    assert "<script" not in html.lower()
    for tag, attrs in page.tags:
        assert tag in HTML_TAGS | SVG_TAGS, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name in URL_ATTRIBUTES:
                if tag == "img" and name == "src":
                    assert value.startswith("data:image/png;base64,"), value[:40]
                else:
                    assert value.startswith("#"), (tag, name, value)
            if name == "style":
                assert all(u.startswith("#") for u in re.findall(r"url\(\s*([^)]*)\)", value)), value
    assert [tag for tag, _ in page.tags].count("style") == 1, "one stylesheet"
    (css,) = page.styles
    assert "url(" not in css and "@import" not in css and "@font-face" not in css
    assert not re.search(r"https?://", css)
    metas = [attrs for tag, attrs in page.tags if tag == "meta" and attrs.get("http-equiv")]
    assert metas == [{"http-equiv": "Content-Security-Policy", "content": CSP}]
    assert CSP == "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return page


def visible_text(page: Page) -> str:
    return "".join(page.text)


@pytest.fixture(scope="module")
def jenny() -> Rendered:
    return jenny_case()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return hostile_case(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def synthea() -> Rendered:
    return synthea_case()


@pytest.fixture(scope="module")
def imaging(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return imaging_case(tmp_path_factory.mktemp("imaging"))


# ------------------------------------------------------------------------------------ escaping


def test_hostile_text_is_text_everywhere(hostile: Rendered) -> None:
    page = check_inert(hostile.html)
    text = visible_text(page)
    # Each payload reached the page, whole, as text: statement, struck statement and reason, the
    # question, a run warning, the model's name, a cancer's name (a section title), the note.
    for payload in (HOSTILE_STATEMENT, STRUCK_TEXT, STRUCK_REASON, WARNING, f"{SCRIPT} Is she a candidate?"):
        assert payload in text, payload
    assert f"medgemma {AMP}" in text
    assert f"Malignant neoplasm of breast {ONERROR} {AMP}" in text
    assert NOTE_TEXT in text, "the note attachment is decoded and shown as text"
    # The record's own JSON, escaped in <pre>: the planted conclusion is there, as the record has it.
    conclusion = json.dumps(
        f"No mass. <a href=\"javascript:window.__pwned='link'\">see prior</a> {SVG_ONLOAD}"
    )
    assert conclusion in text
    # The only links are citations and the table of contents: nothing from the record is a link.
    assert all(href.startswith("#") for href in page.hrefs())
    assert not [attrs for tag, attrs in page.tags if tag == "svg" and "onload" in attrs]


def test_credentials_never_reach_the_report(hostile: Rendered) -> None:
    assert "s3cret-pass" not in hostile.html and "k3y-value" not in hostile.html
    assert "gpu-host:8000/v1" in hostile.html, "the endpoint is shown, redacted"
    assert ENDPOINT not in hostile.html


def test_hostile_labels_in_plots_are_escaped_svg_text(hostile: Rendered) -> None:
    """The cancer's name and the surgery's (record text) label the timeline: escaped by matplotlib."""
    timeline = re.search(
        r'<section class="block kind-timeline" id="timeline">(.*?)</section>', hostile.html, re.S
    )
    assert timeline is not None
    svg = timeline.group(1)
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert any(t.startswith("Malignant neoplasm of breast &lt;img src") for t in texts), texts
    assert "Excision &lt;script&gt;x&lt;/script&gt; &amp; more" in texts, "the surgery's label, whole"
    assert "<script" not in svg


@pytest.mark.parametrize(
    ("svg", "problem"),
    [
        ('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "element 'script'"),
        ('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><g/></svg>', "event attribute 'onload'"),
        (
            '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
            '<use xlink:href="http://evil.example/x.svg#a"/></svg>',
            "a reference outside the figure",
        ),
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><path style="fill: url(http://evil/x)"/></svg>',
            r"url\(\)",
        ),
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><p>x</p></foreignObject></svg>',
            "foreignObject",
        ),
        ('<svg xmlns="http://www.w3.org/2000/svg"><text>a <b>c</text></svg>', "not well-formed"),
        ('<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(x)</style></svg>', "a style sheet"),
    ],
)
def test_svg_that_is_not_matplotlibs_own_drawing_is_refused(svg: str, problem: str) -> None:
    with pytest.raises(UnsafeSvgError, match=problem):
        checked_svg(svg)


def test_plot_text_with_script_and_ampersand_is_escaped_by_matplotlib() -> None:
    from datetime import date

    from medboard.report.html.figures import Point, TrendPlot
    from medboard.report.html.plots import trend_svg

    plot = TrendPlot(
        key="x",
        title="<script>alert(1)</script> & PSA $\\frac{",
        unit="ng/mL & <b>",
        code=None,
        points=[Point(date(2020, 1, 1), 1.0, "Observation/a"), Point(date(2020, 6, 1), 2.5, "Observation/b")],
        band=(0.0, 4.0),
    )
    svg = str(trend_svg(plot, case_date=date(2020, 7, 1), death=None, salt="t"))
    assert "<script" not in svg and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; PSA $\\frac{" in svg
    assert "ng/mL &amp; &lt;b&gt;" in svg
    assert "http://" not in svg and "<style" not in svg and "<?xml" not in svg


def test_trend_plot_draws_the_reference_range_the_values_carry() -> None:
    """Two haemoglobin values with their range 12–16 g/dL (one of them in mmol/L, converted): the
    key-lab plot carries the band in the series unit, its caption says it, the case date is marked."""
    import copy

    from sample_records import tiny_bundle

    from medboard.report.html.figures import key_lab_plots, picture_trend_report
    from medboard.report.html.plots import COLOURS, trend_svg
    from medboard.tools.fhir import load_record
    from medboard.tools.reconcile import picture_of

    bundle = tiny_bundle()
    first = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == "hb")
    second = copy.deepcopy(first)
    second.update(id="hb2", effectiveDateTime="2023-05-01", valueQuantity={"value": 13.4, "unit": "g/dL"})
    third = copy.deepcopy(first)
    third.update(id="hb3", effectiveDateTime="2023-07-01", valueQuantity={"value": 14.0, "unit": "g/dL"})
    third["referenceRange"] = [
        {"low": {"value": 7.45, "unit": "mmol/L"}, "high": {"value": 9.93, "unit": "mmol/L"}}
    ]
    bundle["entry"] += [{"fullUrl": f"Observation/{r['id']}", "resource": r} for r in (second, third)]
    record = load_record(bundle, name="hb-series")
    picture = picture_of(record, case_date="2023-08-01")
    (plot,) = key_lab_plots(picture_trend_report(picture, record), record)
    assert plot.title == "Haemoglobin" and plot.unit == "g/dL" and len(plot.points) == 3
    assert plot.band == (12.0, 16.0)
    from datetime import date

    svg = str(trend_svg(plot, case_date=date(2023, 8, 1), death=None, salt="band"))
    assert f"fill: {COLOURS['band']}" in svg, "the band is drawn"
    assert "case date" in svg and f"stroke: {COLOURS['case']}" in svg


# ------------------------------------------------------------------------------ self-contained


@pytest.mark.parametrize("name", ["jenny", "synthea", "imaging", "hostile"])
def test_nothing_external_and_one_stylesheet(name: str, request: pytest.FixtureRequest) -> None:
    rendered: Rendered = request.getfixturevalue(name)
    page = check_inert(rendered.html)
    # No URL in any attribute, CSS or SVG markup; http(s) appears only inside text (record JSON).
    markup_only = re.sub(r">[^<]*<", "><", rendered.html)
    assert not re.search(r"https?://", markup_only.replace(f'content="{CSP}"', ""))
    assert page.tags[0][0] == "html"


def test_every_statement_cites_through_a_link_to_its_evidence(synthea: Rendered) -> None:
    page = check_inert(synthea.html)
    ids, hrefs = page.ids(), set(page.hrefs())
    refs = list(cited_references(synthea.summary))
    assert refs, "the summary cites the record"
    for ref in refs:
        assert "#" + anchor(ref.reference) in hrefs, ref.reference
        assert anchor(ref.reference) in ids, ref.reference
    # Every citation link lands on an entry, and every entry is a cited reference.
    cites = [attrs["href"][1:] for tag, attrs in page.tags if tag == "a" and attrs.get("class") == "cite"]
    assert set(cites) <= ids
    entries = {attrs["id"] for tag, attrs in page.tags if tag == "article"}
    assert entries == {anchor(r.reference) for r in refs}
    # Each statement shows its verdict as a labelled badge (word and aria-label, not colour alone).
    badges = [attrs for tag, attrs in page.tags if tag == "span" and "badge" in attrs.get("class", "")]
    assert len(badges) >= len(synthea.summary.statements())
    assert all(b["aria-label"].startswith("verdict: ") for b in badges)


def _evidence_json(html: str, reference: str) -> Any:
    import html as html_lib

    entry = re.search(rf'<article class="ev ev-fhir" id="{anchor(reference)}">(.*?)</article>', html, re.S)
    assert entry is not None, reference
    assert f"<code>{reference}</code>" in entry.group(1)
    pre = re.search(r'<pre class="json">(.*?)</pre>', entry.group(1), re.S)
    assert pre is not None
    return json.loads(html_lib.unescape(pre.group(1)))


def test_fhir_evidence_is_the_resource_as_pretty_json(synthea: Rendered) -> None:
    observation = next(
        ref.reference
        for st in synthea.summary.statements()
        for ref in st.evidence
        if ref.reference.startswith("Observation/")
    )
    record = synthea.case.record.resources[observation]
    shown = _evidence_json(synthea.html, observation)
    assert shown == displayed(record)
    assert shown["valueQuantity"] == record["valueQuantity"] and shown["code"] == record["code"]


def test_identifiers_and_contact_details_are_withheld(synthea: Rendered) -> None:
    """The Patient is cited (name, birth date, sex); its SSN, MRN, phone and street are not shown."""
    patient = synthea.case.record.patient
    assert patient is not None and synthea.summary.patient is not None
    shown = _evidence_json(synthea.html, synthea.summary.patient)
    identifying = [i["value"] for i in patient["identifier"]] + [t["value"] for t in patient["telecom"]]
    identifying += [*patient["address"][0]["line"], patient["address"][0]["postalCode"]]
    assert identifying and not [value for value in identifying if value in synthea.html]
    assert {i["value"] for i in shown["identifier"]} == {WITHHELD}
    assert shown["address"][0]["state"] == patient["address"][0]["state"]
    assert shown["name"] == patient["name"] and shown["birthDate"] == patient["birthDate"]
    assert shown["text"]["div"] == WITHHELD, "the narrative repeats the identifiers"


def test_anchors_are_distinct_for_references_one_slug_apart() -> None:
    assert anchor("Observation/a.b") != anchor("Observation/a-b")
    assert re.fullmatch(r"ev-[A-Za-z0-9_-]+", anchor("image:brain1_image#frame=12"))


# --------------------------------------------------------------------------- sections and parts


def test_sections_follow_the_summary_layout(synthea: Rendered) -> None:
    html = synthea.html
    kinds = [s.kind for s in synthea.summary.sections]
    positions = [html.index(f'class="block kind-{kind}"') for kind in kinds]
    assert positions == sorted(positions), "blocks in the summary's order"
    # The timeline follows the last cancer block; trends sit in the key-labs block.
    assert html.index('class="block kind-cancer"') < html.index('id="timeline"') < html.index("kind-key_labs")
    key_labs = re.search(r'class="block kind-key_labs"(.*?)</section>', html, re.S)
    assert key_labs is not None and 'id="trends"' in key_labs.group(1) and "<svg" in key_labs.group(1)
    rows = re.findall(r"<tr id=\"st-", key_labs.group(1))
    assert len(rows) == len([s for s in synthea.summary.section("key_labs").statements if s.cells])  # type: ignore[union-attr]
    cancer = re.search(r'class="block kind-cancer"(.*?)</section>', html, re.S)
    assert cancer is not None and "Tumour markers" in cancer.group(1) and "<svg" in cancer.group(1)
    # The appendix is folded; the evidence part comes last.
    assert re.search(r'kind-appendix" id="[^"]+">\s*<details class="appendix">', html)
    assert html.index('id="run"') < html.index('id="evidence"')


def test_struck_statements_are_listed_with_their_reason(hostile: Rendered) -> None:
    struck = re.search(r'<section class="block" id="struck">(.*?)</section>', hostile.html, re.S)
    assert struck is not None and "<details>" in struck.group(1)
    page = Page(struck.group(1))
    assert STRUCK_TEXT in visible_text(page) and STRUCK_REASON in visible_text(page)
    assert any(attrs.get("aria-label") == "verdict: struck" for _, attrs in page.tags)


def test_run_metadata_per_agent(jenny: Rendered) -> None:
    run = re.search(r'<section class="block" id="run">(.*?)</section>', jenny.html, re.S)
    assert run is not None
    text = visible_text(Page(run.group(1)))
    assert f"medboard{jenny.summary.run.medboard_version}" in text.replace(" ", "")
    for agent in jenny.summary.run.agents:
        assert agent.agent in text
    assert "none (deterministic)" in text


def test_the_same_input_gives_the_same_bytes(synthea: Rendered, jenny: Rendered, tmp_path: Path) -> None:
    again = render_report(synthea.summary, synthea.case)
    assert again == synthea.html
    # In another process too (matplotlib's SVG ids come from a fixed salt, no date is written).
    import subprocess
    import sys

    (tmp_path / "summary.json").write_text(jenny.summary.model_dump_json())
    script = (
        "import sys; from pathlib import Path\n"
        "from medboard.examples import DEFAULT_CASE\n"
        "from medboard.models import CaseSummary\n"
        "from medboard.orchestrator.case import load_case\n"
        "from medboard.report.html import render_report\n"
        "summary = CaseSummary.model_validate_json(Path(sys.argv[1]).read_text())\n"
        "sys.stdout.buffer.write(render_report(summary, load_case(DEFAULT_CASE)).encode())\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "summary.json")], capture_output=True, timeout=120
    )
    assert other.returncode == 0, other.stderr.decode()[-500:]
    assert other.stdout.decode() == jenny.html


# ---------------------------------------------------------------------------------- the images


def test_key_image_comes_with_its_overlay_and_matches_a_fresh_drawing(imaging: Rendered) -> None:
    page = check_inert(imaging.html)
    imaging_block = re.search(r'class="block kind-imaging"(.*?)</section>', imaging.html, re.S)
    assert imaging_block is not None
    images = re.findall(r'<img src="(data:image/png;base64,[^"]+)"', imaging_block.group(1))
    assert images, "a key image"
    from PIL import Image

    picture = Image.open(io.BytesIO(base64.b64decode(images[0].split(",", 1)[1]))).convert("RGB")
    assert max(picture.size) <= 768
    assert (255, 64, 64) in {
        picture.getpixel((x, y)) for x in range(picture.width) for y in range(picture.height)
    }
    # Drawn from the case's own images (no overlay folder) it is the same picture.
    fresh = render_report(imaging.summary, imaging.case)
    assert fresh == imaging.html
    assert any(tag == "article" and "ev-image" in attrs.get("class", "") for tag, attrs in page.tags)


def test_a_cited_frame_outside_the_images_folder_is_never_read(imaging: Rendered, tmp_path: Path) -> None:
    """A hand-edited summary citing ``image:../secret#frame=1`` reads no file outside ``images/``."""
    from PIL import Image

    (tmp_path / "images").mkdir()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(tmp_path / "secret-frame1.png")
    summary: CaseSummary = imaging.summary.model_copy(deep=True)
    summary.sections[0].statements[0].evidence.append(EvidenceRef(reference="image:../secret#frame=1"))
    html = render_report(summary, imaging.case, images_dir=tmp_path / "images")
    entry = re.search(rf'id="{anchor("image:../secret#frame=1")}">(.*?)</article>', html, re.S)
    assert entry is not None and "<img" not in entry.group(1) and "Image not shown" in entry.group(1)


# ---------------------------------------------------------------------------- written by a run


def test_run_out_writes_report_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from medboard.cli.main import main
    from medboard.examples import DEFAULT_CASE

    out = tmp_path / "out"
    assert main(["run", str(DEFAULT_CASE), "--model", "none", "--out", str(out)]) == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    check_inert(html)
    summary = CaseSummary.model_validate_json((out / "summary.json").read_text())
    assert summary.case_id in html and "report.html" in capsys.readouterr().out
    manifest = json.loads((out / ".medboard-manifest.json").read_text())
    assert sorted(manifest["files"]) == ["report.html", "summary.json", "summary.md"]


def test_write_case_outputs_writes_the_three_files(jenny: Rendered, tmp_path: Path) -> None:
    from medboard.report import write_case_outputs

    write_case_outputs(jenny.summary, jenny.case, tmp_path / "case")
    written: dict[str, Any] = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "case").iterdir()}
    assert sorted(written) == ["report.html", "summary.json", "summary.md"]
    assert CaseSummary.model_validate_json(written["summary.json"]) == jenny.summary
    assert written["report.html"] == jenny.html
