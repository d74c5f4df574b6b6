"""Shared by the Hypothesis tests: a bounded address space and the "clean error" assertion."""

from __future__ import annotations

import resource
from collections.abc import Iterator

import pytest

from .runner import UNSAFE_CHARS

#: Head-room above the current address-space size while a fuzz test runs (a bomb fails, not the box).
HEADROOM = 3 * 1024**3


def _address_space() -> int:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[0])
    return pages * resource.getpagesize()


@pytest.fixture
def bounded_memory() -> Iterator[None]:
    """Cap this process's address space for the test (soft limit only, restored afterwards)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space() + HEADROOM
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def assert_clean(error: BaseException) -> None:
    """A clean error: one line, no raw control/bidi characters, no traceback text."""
    message = str(error)
    assert message.strip(), f"{type(error).__name__} with an empty message"
    assert "\n" not in message and "\r" not in message, f"multi-line error: {message[:300]!r}"
    hit = UNSAFE_CHARS.search(message)
    assert hit is None, f"raw control/bidi character U+{ord(hit.group()):04X} in error: {message[:300]!r}"
    assert "Traceback" not in message
