"""report.html in a real browser (Debian chromium, headless, driven by playwright).

Real cases, run end to end with no model and opened from files (``file://``): the embedded Jenny M
case, a shared Synthea record with a PSA series, a line of therapy and a death, the brain MR with
its lesion mask (a key image with its box), and Jenny M carrying hostile text in the record, the
question and the summary. Each test checks what a reader sees: the sections, a plot, an overlay
with real pixels, citations that bring their evidence into view, planted script that never runs,
no request beyond the file itself, and a print rendering that makes a PDF. Screenshots and the PDF
are saved as test artifacts (tests/artifacts/, or $MEDBOARD_TEST_ARTIFACTS).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from browser_support import LOCAL_SCHEMES, artifact_path, in_thread, save_screenshot
from report_support import (
    HOSTILE_STATEMENT,
    NOTE_TEXT,
    SCRIPT,
    STRUCK_TEXT,
    hostile_case,
    imaging_case,
    jenny_case,
    synthea_case,
    write_report,
)

from medboard.report.html.evidence import anchor, displayed

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The four reports as files (the case flows run in a thread: no event loop under playwright)."""
    folder = tmp_path_factory.mktemp("reports")

    def build() -> dict[str, Any]:
        return {
            "jenny": jenny_case(),
            "synthea": synthea_case(),
            "imaging": imaging_case(folder / "imaging"),
            "hostile": hostile_case(folder / "hostile"),
        }

    rendered = in_thread(build)
    return {name: (write_report(r, folder, name), r) for name, r in rendered.items()}


def open_report(page: Any, path: Path) -> None:
    page.goto(path.as_uri())
    page.wait_for_load_state("load")


def only_local_requests(page: Any) -> None:
    outside = [url for url in page.medboard_requests if not url.startswith(LOCAL_SCHEMES)]
    assert not outside, f"the report asked the network for {outside[:3]}"
    assert page.medboard_requests, "the request log works (the page itself was requested)"


def in_viewport(page: Any, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    viewport = page.viewport_size
    assert box is not None and viewport is not None
    return box["y"] >= -1 and box["y"] < viewport["height"] and box["height"] > 0


# ---------------------------------------------------------------------------------- rendering


def test_jenny_report_renders_its_sections_and_a_citation_opens_its_evidence(
    page: Any, reports: dict[str, Any]
) -> None:
    path, rendered = reports["jenny"]
    open_report(page, path)
    assert page.title() == "Case report — jenny-m"
    headline = page.locator("section.kind-headline")
    assert headline.is_visible() and headline.locator("li").count() >= 3
    assert page.locator("section.kind-answer").is_visible()
    cancer = page.locator("section.kind-cancer").first
    assert cancer.is_visible() and cancer.locator("table.statements tbody tr").count() >= 2
    assert page.locator("#timeline svg.plot").is_visible(), "the treatment timeline is drawn"
    assert page.locator("#timeline svg text").count() > 5
    badges = page.locator("section.kind-headline .badge")
    assert badges.first.get_attribute("aria-label", timeout=1000) == "verdict: supported"
    save_screenshot(page, "report-jenny-top")

    # A citation in the cancer's therapy table: its resource, as JSON, comes into view.
    statement = next(s for s in rendered.summary.section("cancer").statements if s.cells)
    reference = statement.evidence[0].reference
    cite = page.locator(f'#st-{statement.id} a.cite[href="#{anchor(reference)}"]')
    cite.click()
    target = f"#{anchor(reference)}"
    page.wait_for_function(f"location.hash === '{target}'")
    entry = page.locator(target)
    assert entry.is_visible() and in_viewport(page, target)
    assert entry.locator("h3").inner_text() == reference
    shown = json.loads(entry.locator("pre.json").inner_text())
    assert shown == displayed(rendered.case.record.resources[reference])
    assert shown["resourceType"] + "/" + shown["id"] == reference
    assert entry.evaluate("e => getComputedStyle(e).outlineStyle") == "solid", ":target highlights it"
    save_screenshot(page, "report-jenny-evidence")
    only_local_requests(page)


def test_synthea_report_has_trend_plots_marker_course_and_key_labs(
    page: Any, reports: dict[str, Any]
) -> None:
    path, rendered = reports["synthea"]
    open_report(page, path)
    rows = page.locator("section.kind-key_labs table.statements tbody tr")
    assert rows.count() == len([s for s in rendered.summary.section("key_labs").statements if s.cells])
    assert rows.count() >= 5
    trends = page.locator("#trends svg.plot")
    assert trends.count() >= 3 and trends.first.is_visible()
    box = trends.first.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 100, "the plot has a real size"
    assert page.locator("section.kind-cancer .figures svg.plot").count() >= 1, "the PSA plot"
    timeline = page.locator("#timeline svg.plot")
    assert timeline.is_visible()
    labels = [t.strip() for t in timeline.locator("text").all_text_contents()]
    assert "line 1" in labels and "surgery" in labels and any(t.startswith("PSA") for t in labels)
    assert any(t.startswith("died ") for t in labels), "the death is marked"
    page.locator("#trends").scroll_into_view_if_needed()
    save_screenshot(page, "report-synthea-trends")
    only_local_requests(page)


def test_imaging_report_shows_the_key_image_with_its_box(page: Any, reports: dict[str, Any]) -> None:
    path, _ = reports["imaging"]
    open_report(page, path)
    image = page.locator("section.kind-imaging .key-image img").first
    image.scroll_into_view_if_needed()
    assert image.is_visible()
    assert image.evaluate("i => i.complete && i.naturalWidth") > 0, "the overlay decodes"
    # Its citation opens the frame's evidence entry: the same frame, with its box, in view.
    cite = page.locator("section.kind-imaging .key-image a.cite").first
    target = cite.get_attribute("href")
    assert target is not None
    cite.click()
    page.wait_for_function(f"location.hash === '{target}'")
    frame = page.locator(f"{target} img.frame")
    assert frame.is_visible() and in_viewport(page, target)
    assert frame.evaluate("i => i.naturalWidth") > 0
    save_screenshot(page, "report-imaging-evidence")
    only_local_requests(page)


# ------------------------------------------------------------------------------------ safety


def test_planted_script_does_not_run_and_reads_as_text(page: Any, reports: dict[str, Any]) -> None:
    path, _ = reports["hostile"]
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_report(page, path)
    assert page.title() == "Case report — hostile-jenny"
    assert page.evaluate("() => window.__pwned") is None
    # Click what would be a link if record text were markup: there is none to click.
    assert page.locator("a[href^='javascript:']").count() == 0
    assert page.locator("script").count() == 0
    assert page.locator("[onerror], [onload], [onclick]").count() == 0
    # The hostile texts are on the page as text.
    assert page.get_by_text(HOSTILE_STATEMENT, exact=True).is_visible()
    assert page.locator("section.kind-headline").get_by_text(f"Jenny {SCRIPT}").first.is_visible()
    assert page.locator("pre.note-text").inner_text() == NOTE_TEXT
    page.locator("#struck summary").click()
    assert page.locator("#struck del").get_by_text(STRUCK_TEXT).is_visible()
    # Even clicking every citation of the planted statement and opening every fold runs nothing.
    for cite in page.locator("li:has-text('Model says') a.cite").all():
        cite.click()
    for fold in page.locator("details:not([open]) > summary").all():
        fold.click()
    assert page.evaluate("() => window.__pwned") is None and dialogs == []
    save_screenshot(page, "report-hostile", full_page=False)
    only_local_requests(page)


def test_no_report_makes_a_network_request(page: Any, reports: dict[str, Any]) -> None:
    for name, (path, _) in reports.items():
        page.medboard_requests.clear()
        open_report(page, path)
        page.locator("details:not([open]) > summary").first.click()
        only_local_requests(page)
        assert page.medboard_requests[0] == path.as_uri(), name


def test_citations_work_without_javascript(browser: Any, reports: dict[str, Any]) -> None:
    """The report needs no script: with JavaScript off, a citation still brings its evidence up."""
    from browser_support import VIEWPORT

    path, rendered = reports["synthea"]
    context = browser.new_context(viewport=VIEWPORT, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(path.as_uri())
        statement = rendered.summary.section("headline").statements[0]
        target = "#" + anchor(statement.evidence[0].reference)
        page.locator(f'#st-{statement.id} a.cite[href="{target}"]').click()
        page.wait_for_url(f"**/{path.name}{target}")
        assert page.locator(target).is_visible() and in_viewport(page, target)
    finally:
        context.close()


# ------------------------------------------------------------------------------------- print


def test_print_rendering_makes_a_pdf(page: Any, reports: dict[str, Any]) -> None:
    path, _ = reports["synthea"]
    open_report(page, path)
    page.emulate_media(media="print")
    assert page.locator("nav.toc").is_hidden(), "no contents bar on paper"
    assert page.locator("#evidence").evaluate("e => getComputedStyle(e).breakBefore") == "page"
    overflow = page.locator(".table-wrap").first.evaluate("e => getComputedStyle(e).overflowX")
    assert overflow == "visible", "tables are not clipped on paper"
    body = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert body in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")
    pdf = page.pdf(format="A4", print_background=False)
    assert pdf.startswith(b"%PDF-") and len(pdf) > 50_000
    artifact_path("report-synthea.pdf").write_bytes(pdf)
    save_screenshot(page, "report-synthea-print")


# ------------------------------------------------------------- the browser leaves the suite alone


def test_asyncio_runs_while_the_session_browser_is_open(request: pytest.FixtureRequest) -> None:
    """Playwright marks its loop as running after every call; the fixtures clear that mark, so a
    test that does not use the browser runs `asyncio.run` while the browser stays open."""
    request.getfixturevalue("browser")  # open (or already open) for the session

    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert asyncio.run(answer()) == 42


async def test_async_tests_run_after_browser_tests() -> None:
    await asyncio.sleep(0)
    assert asyncio.get_running_loop().is_running()
