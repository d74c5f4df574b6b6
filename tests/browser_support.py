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

Playwright's sync API runs its own asyncio loop in a greenlet and marks that loop as the thread's
running loop after every call, so while it is alive `asyncio.run` (and every pytest-asyncio test)
would fail with "cannot be called from a running event loop". The browser lives for the whole
session, so it must not leave that mark behind: `browser_turn` (autouse, registered in conftest.py)
hands the thread to playwright only for the tests that use `browser` or `page`, and takes it back
after them; the rest of the suite runs its event loops as if no browser were open. Inside a
browser test, run asyncio work (a case flow) in a thread: `in_thread`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
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


@contextlib.contextmanager
def playwright_turn(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """The thread belongs to playwright's loop inside the block, to nobody's after it."""
    asyncio.events._set_running_loop(loop)
    try:
        yield
    finally:
        asyncio.events._set_running_loop(None)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does it)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (the dev extra)"
    )
    manager = sync_api.sync_playwright()
    playwright = manager.__enter__()
    loop = asyncio.events._get_running_loop()  # playwright's own, marked running by every call
    assert loop is not None
    try:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
    except BaseException:
        manager.__exit__(None, None, None)
        asyncio.events._set_running_loop(None)
        raise
    launched.medboard_loop = loop
    asyncio.events._set_running_loop(None)
    try:
        yield launched
    finally:
        with playwright_turn(loop):
            launched.close()
            manager.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def browser_turn(request: pytest.FixtureRequest) -> Iterator[None]:
    """For a test that uses the browser: playwright's loop marked running for the test (and its
    `page` fixture), cleared after it. Other tests are untouched."""
    if "browser" not in request.fixturenames:
        yield
        return
    launched = request.getfixturevalue("browser")
    with playwright_turn(launched.medboard_loop):
        yield


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
