"""A real browser for the tests: Debian's chromium driven by playwright (sync API).

Fixtures (registered in conftest.py):

* `browser` (session): headless chromium from ``/usr/bin/chromium`` (playwright's own browser
  download is unavailable on these machines, and ``PLAYWRIGHT_CHROMIUM_EXECUTABLE_PATH`` is not
  honoured, so the path is passed as ``executable_path``), launched with no sandbox (root in a
  container), no background networking, no component updates and no GPU. Skipped, with the reason,
  when chromium or playwright is missing.
* `page` (function): a fresh context and page. Every request the page makes is recorded in
  ``page.medboard_requests``; anything that is not ``file:`` or ``data:`` is aborted, so a report
  that tried to load something from the network fails its checks instead of reaching out.

`save_screenshot(page, name)` writes ``name.png`` to ``tests/artifacts/`` (gitignored) or
``$MEDBOARD_TEST_ARTIFACTS``; `artifact_path(name)` names any other artifact (a PDF).

The sync API must not run inside an event loop: run asyncio work (a case flow) in a thread
(`in_thread`) while a browser is open.
"""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-gpu",
]
VIEWPORT = {"width": 1280, "height": 900}
#: URL schemes a page may load: its own file and inline data.
LOCAL_SCHEMES = ("file:", "data:")

T = TypeVar("T")


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("MEDBOARD_TEST_ARTIFACTS") or Path(__file__).parent / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def artifact_path(name: str) -> Path:
    return artifacts_dir() / name


def save_screenshot(page: Any, name: str, *, full_page: bool = False) -> Path:
    """A PNG of the page (the viewport, or the whole page) as a test artifact; returns its path."""
    path = artifact_path(name if name.endswith(".png") else f"{name}.png")
    page.screenshot(path=str(path), full_page=full_page)
    return path


def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `function` in a worker thread (for `asyncio.run` while the sync browser API is live)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args, **kwargs).result()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does it)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (the dev extra)"
    )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def _guard(route: Any) -> None:
    if route.request.url.startswith(LOCAL_SCHEMES):
        route.continue_()
    else:
        route.abort()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT)
    opened = context.new_page()
    requests: list[str] = []
    opened.on("request", lambda request: requests.append(request.url))
    context.route("**/*", _guard)
    opened.medboard_requests = requests
    try:
        yield opened
    finally:
        context.close()
