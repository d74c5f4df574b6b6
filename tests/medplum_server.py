"""The test FHIR server: medplum's fhir-router in memory behind `tests/fhir_server/server.mjs`.

A real FHIR R4 server (search, read, conditional create, transactions) is what the FHIR client,
write-back and the HTTP service are tested against; the wrapper adds what medplum's memory store
lacks (paging links, `/metadata`, `$everything`, a SMART token endpoint) and a test-only side door
(`/__admin/*`: load, configure, inject faults, count, request log). See server.mjs for the details.

The node process is started once per test session on 127.0.0.1 with a free port and stopped at
the end; the `fhir_server` fixture resets its configuration, faults and request log after each
test. `npm ci` runs on first use when `tests/fhir_server/node_modules` is missing (CI runs it in
`.ci/run`); without node/npm the fixture skips with that reason.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

SERVER_DIR = Path(__file__).resolve().parent / "fhir_server"
SHARED_FHIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "fhir"
#: The static token the server accepts whenever auth is on.
STATIC_TOKEN = "medboard-test-static-token"


def bundle_path(name: str) -> Path:
    """A shared bundle by short name: a Synthea stem (``austin_franecki``) or an mCODE one (``jenny-m``)."""
    for candidate in (
        SHARED_FHIR / "synthea" / f"{name}.json",
        SHARED_FHIR / "mcode" / f"Bundle-mcode-patient-bundle-{name}.json",
        SHARED_FHIR / "mcode" / f"{name}.json",
    ):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no shared bundle named {name!r} under {SHARED_FHIR}")


def ensure_node_modules() -> None:
    """`npm ci` from the lockfile when the pinned packages are not installed yet (or skip the test)."""
    if (SERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("node/npm not installed: the test FHIR server (medplum) cannot run")
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=SERVER_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        pytest.fail(f"npm ci in {SERVER_DIR} failed: {result.stderr.strip()[-2000:]}")


class MedplumServer:
    """One running server process and the fixture's handle on it."""

    def __init__(self) -> None:
        ensure_node_modules()
        self.process = subprocess.Popen(
            ["node", str(SERVER_DIR / "server.mjs"), "--port", "0"],
            cwd=SERVER_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        port = self._wait_for_port()
        self.origin = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.origin}/fhir/R4"
        self.token_url = f"{self.origin}/auth/token"
        self.bearer_token = STATIC_TOKEN
        self._admin = httpx.Client(base_url=f"{self.origin}/__admin/", timeout=120)
        self._loaded: dict[str, str] = {}
        self._lock = threading.Lock()

    def _wait_for_port(self) -> int:
        assert self.process.stdout is not None
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(self.process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout=60)
        line = result[0] if result else ""
        if not line.startswith("LISTENING "):
            self.stop()
            stderr = self.process.stderr.read() if self.process.stderr else ""
            raise RuntimeError(f"the test FHIR server did not start: {line!r} {stderr[-2000:]}")
        return int(line.split()[1])

    # --- data ---------------------------------------------------------------------------------

    def load(self, name: str) -> str:
        """Load a shared bundle once (by short name); returns its Patient id on this server."""
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = self.load_bundle(json.loads(bundle_path(name).read_text()))
            return self._loaded[name]

    def load_bundle(self, bundle: dict[str, Any]) -> str:
        """Load any bundle (a transaction gets new ids; a collection keeps its ids); its Patient id."""
        response = self._admin.post("load", json=bundle)
        response.raise_for_status()
        patient = response.json()["patient"]
        if not patient:
            raise ValueError("the bundle holds no Patient")
        return str(patient)

    def count(self, resource_type: str) -> int:
        """How many resources of a type the server holds."""
        response = self._admin.get("count", params={"type": resource_type})
        response.raise_for_status()
        return int(response.json()["count"])

    def requests(self) -> list[tuple[str, str]]:
        """``(method, path?query)`` relative to the FHIR base, since the last reset."""
        return [(method, path) for method, path in self._admin.get("requests").json()]

    # --- behaviour ----------------------------------------------------------------------------

    def configure(
        self,
        *,
        everything: bool = True,
        auth: Literal["none", "bearer", "smart"] = "none",
        page_size: int | None = None,
        token_seconds: int = 300,
    ) -> None:
        """Whether `$everything` is offered, which auth is demanded, a page-size cap, token lifetime."""
        self._admin.post(
            "config",
            json={
                "everything": everything,
                "auth": auth,
                "pageSize": page_size,
                "tokenSeconds": token_seconds,
            },
        ).raise_for_status()

    def fault(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: str | int | None = None,
        body: str | dict[str, Any] | None = None,
    ) -> None:
        """The next `times` FHIR requests answer `status` (with Retry-After / this body)."""
        self._admin.post(
            "fault", json={"status": status, "times": times, "retry_after": retry_after, "body": body}
        ).raise_for_status()

    def register_client(self, client_id: str, jwks: dict[str, Any]) -> None:
        """The public JWKS the token endpoint verifies `client_id`'s assertions with."""
        self._admin.post("client", json={"client_id": client_id, "jwks": jwks}).raise_for_status()

    def reset(self) -> None:
        """Default configuration, no faults, an empty request log (the data stays)."""
        self._admin.post("reset").raise_for_status()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if hasattr(self, "_admin"):
            self._admin.close()


@pytest.fixture(scope="session")
def medplum_process() -> Iterator[MedplumServer]:
    server = MedplumServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fhir_server(medplum_process: MedplumServer) -> Iterator[MedplumServer]:
    """The session's test FHIR server, reset to its defaults after the test."""
    medplum_process.reset()
    try:
        yield medplum_process
    finally:
        medplum_process.reset()
