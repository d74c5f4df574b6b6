"""The board packet's index.html in a real browser (Debian chromium, headless, driven by playwright).

A real board runs first (no model; in a thread, as playwright owns the test's event loop): two
shared records and one case whose bundle is cut off mid-file, with script planted in the board's
name and a question. The index is opened from the file system; the tests check what the board sees:
each case's row with its headline, discrepancy count, verification and status; the failed case
reading FAILED with its reason and no link; a click through to a case's report.html; planted script
inert; nothing requested beyond local files; a print rendering. Screenshots and the PDF are saved
as test artifacts (tests/artifacts/, or $MEDBOARD_TEST_ARTIFACTS).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from browser_support import LOCAL_SCHEMES, artifact_path, in_thread, save_screenshot

from medboard.cli.main import main
from medboard.report.board import BoardPacket

pytestmark = pytest.mark.slow

SHARED_FHIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "fhir"
SCRIPT = "<script>window.__pwned = 'script'; document.title = 'pwned';</script>"
BOARD_NAME = f"Breast & colon board {SCRIPT}"


@pytest.fixture(scope="module")
def packet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BoardPacket]:
    folder = tmp_path_factory.mktemp("board")
    shutil.copy(SHARED_FHIR / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json", folder / "jenny.json")
    shutil.copy(SHARED_FHIR / "synthea" / "darin_skiles.json", folder / "darin.json")
    text = (folder / "jenny.json").read_text(encoding="utf-8")
    (folder / "broken.json").write_text(text[: len(text) // 3], encoding="utf-8")
    agenda = folder / "agenda.yaml"
    cases = [
        {
            "id": "jenny",
            "bundle": "jenny.json",
            "question": "Is she a candidate for breast-conserving surgery?",
        },
        {"id": "broken", "bundle": "broken.json", "question": "Which record is this?"},
        {"id": "darin", "bundle": "darin.json", "question": f"Surveillance due? {SCRIPT}"},
    ]
    agenda.write_text(
        yaml.safe_dump({"board": BOARD_NAME, "date": "2024-05-02", "cases": cases}), encoding="utf-8"
    )
    out = folder / "packet"
    code = in_thread(main, ["board", str(agenda), "--out", str(out), "--model", "none", "--concurrency", "3"])
    assert code == 2  # the broken bundle: bad input
    return out, BoardPacket.model_validate_json((out / "board.json").read_text(encoding="utf-8"))


def open_index(page: Any, out: Path) -> None:
    page.goto((out / "index.html").as_uri())
    page.wait_for_load_state("load")


def only_local_requests(page: Any) -> None:
    outside = [url for url in page.medboard_requests if not url.startswith(LOCAL_SCHEMES)]
    assert not outside, f"the packet asked the network for {outside[:3]}"
    assert page.medboard_requests


def test_each_case_row_shows_its_headline_discrepancies_and_status(
    page: Any, packet: tuple[Path, BoardPacket]
) -> None:
    out, board = packet
    open_index(page, out)
    assert page.title() == f"{BOARD_NAME} — 2024-05-02"
    assert page.locator("#board-name").inner_text() == BOARD_NAME  # shown as text, never run
    assert page.locator("#board-counts").inner_text() == "3 (2 done, 1 failed)"
    rows = page.locator("li.case")
    assert rows.count() == 3
    assert [rows.nth(i).get_attribute("data-case") for i in range(3)] == ["jenny", "broken", "darin"]
    for case in board.cases:
        row = page.locator(f'li.case[data-case="{case.id}"]')
        assert row.is_visible()
        if case.status != "done":
            continue
        assert case.headline
        assert row.locator(".headline-text").inner_text() == case.headline
        assert row.locator("dd.discrepancies").inner_text() == str(case.discrepancies)
        assert row.locator(".state").inner_text().strip() == "● DONE"
        counts = case.verification
        flagged = counts["unsupported"] + counts["contradicted"]
        shown = row.locator("dd.verification").inner_text()
        assert shown.startswith(f"{counts['supported']} ✓ · {counts['unverifiable']} ? · {flagged} ✗")
        assert shown.endswith(f"{counts['struck']} struck")
        badge = row.locator(".vstat")
        assert badge.inner_text().startswith("verified:" if not flagged else "needs review:")
        label = badge.get_attribute("aria-label") or ""
        assert f"{counts['supported']} supported" in label  # words, not colour alone
    darin = page.locator('li.case[data-case="darin"] .question-text')
    assert darin.inner_text() == f"Surveillance due? {SCRIPT}"
    assert page.evaluate("typeof window.__pwned") == "undefined"
    save_screenshot(page, "board-index", full_page=True)
    only_local_requests(page)


def test_a_failed_case_shows_failed_its_reason_and_no_link(
    page: Any, packet: tuple[Path, BoardPacket]
) -> None:
    out, board = packet
    broken = next(c for c in board.cases if c.id == "broken")
    assert broken.status == "failed" and broken.error
    open_index(page, out)
    row = page.locator('li.case[data-case="broken"]')
    assert row.locator(".state").inner_text().strip() == "✗ FAILED"
    assert row.locator(".reason").inner_text() == broken.error
    assert "broken.json" in broken.error
    assert row.locator("a").count() == 0, "no report for a case that did not finish"
    assert row.locator(".headline").count() == 0 and row.locator("dd.discrepancies").count() == 0
    assert not (out / "cases" / "broken").exists()
    row.scroll_into_view_if_needed()
    save_screenshot(page, "board-index-failed-case")


def test_a_case_link_opens_its_report(page: Any, packet: tuple[Path, BoardPacket]) -> None:
    out, board = packet
    jenny = next(c for c in board.cases if c.id == "jenny")
    open_index(page, out)
    page.locator('li.case[data-case="jenny"] h3 a.report-link').click()
    page.wait_for_load_state("load")
    assert page.url == (out / "cases" / "jenny" / "report.html").as_uri()
    assert page.title() == "Case report — jenny"
    headline = page.locator("section.kind-headline")
    assert headline.is_visible() and headline.locator("li").count() >= 3
    assert jenny.headline and jenny.headline.split(",")[0] in headline.inner_text()
    save_screenshot(page, "board-case-report")
    page.go_back()
    page.wait_for_load_state("load")
    assert page.locator("li.case").count() == 3
    only_local_requests(page)


def test_the_index_prints(page: Any, packet: tuple[Path, BoardPacket]) -> None:
    out, _ = packet
    open_index(page, out)
    page.emulate_media(media="print")
    assert not page.locator('li.case[data-case="jenny"] .links').is_visible(), "file links hidden on paper"
    assert page.locator('li.case[data-case="broken"] .state').is_visible()
    pdf = artifact_path("board-index.pdf")
    page.pdf(path=str(pdf), format="A4")
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 5_000
