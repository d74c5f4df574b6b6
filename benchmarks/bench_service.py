"""HTTP service benchmarks (issue 12): what the service adds to a case, and CDS card latency.

An in-process uvicorn on 127.0.0.1 (a free port, real sockets, real HTTP), `--model none`:

1. case latency — ``POST /cases`` (the Bundle's bytes) then ``GET /cases/{id}`` every 10 ms until
   done — for the mCODE Jenny M bundle and the largest shared Synthea record, against a direct
   `medboard.api.run_case` on the same file in the same process (the baseline: loading the record
   and the case flow, without HTTP, JSON parsing of the body, the queue or the engine thread);
2. CDS Hooks card latency: ``POST /cds-services/medboard-patient-view`` with the record's
   resources as prefetch and an ES384 JWT, against the same direct run.

Each figure is the median (p50) of `--repeats` runs after one warm-up. Prints figures; asserts nothing.

    python benchmarks/bench_service.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec

from medboard.api import run_case
from medboard.service.app import create_app
from medboard.service.settings import ServiceSettings

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fhir"
JENNY = DATA / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
TOKEN = "bench-token-0123456789abcdef"
ISSUER = "https://ehr.bench.example/"
PREFETCH_TYPES = {
    "conditions": "Condition",
    "observations": "Observation",
    "medications": "MedicationRequest",
    "reports": "DiagnosticReport",
}


def largest_synthea() -> Path:
    return max((DATA / "synthea").glob("*.json"), key=lambda p: p.stat().st_size)


def median(values: list[float]) -> float:
    return statistics.median(values)


async def direct(path: Path, repeats: int) -> float:
    await run_case(path, model="none")  # warm-up: imports, first picture
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        await run_case(path, model="none")
        times.append(time.perf_counter() - started)
    return median(times)


class Server:
    def __init__(self, settings: ServiceSettings) -> None:
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


async def via_service(client: httpx.AsyncClient, path: Path, repeats: int) -> float:
    body = path.read_bytes()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/fhir+json"}

    async def once() -> float:
        started = time.perf_counter()
        response = await client.post("/cases", content=body, headers=headers)
        response.raise_for_status()
        case_id = response.json()["id"]
        while True:
            state = (await client.get(f"/cases/{case_id}", headers=headers)).json()
            if state["status"] in ("done", "failed"):
                assert state["status"] == "done", state
                return time.perf_counter() - started
            await asyncio.sleep(0.01)

    await once()
    return median([await once() for _ in range(repeats)])


class Ehr:
    """The CDS client: an ES384 key, its JWKS file, tokens for the service URL."""

    def __init__(self, folder: Path) -> None:
        self.key = ec.generate_private_key(ec.SECP384R1())
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        public.update({"kid": "bench", "alg": "ES384", "use": "sig"})
        self.jwks = folder / "jwks.json"
        self.jwks.write_text(json.dumps({"keys": [public]}))

    def token(self, audience: str) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": audience, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self.key, algorithm="ES384", headers={"kid": "bench", "typ": "JWT"})


def hook_request(path: Path) -> dict[str, Any]:
    bundle = json.loads(path.read_text())
    resources = [e["resource"] for e in bundle["entry"]]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    prefetch: dict[str, Any] = {"patient": patient}
    for key, kind in PREFETCH_TYPES.items():
        found = [r for r in resources if r["resourceType"] == kind]
        prefetch[key] = (
            {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in found]}
            if found
            else None
        )
    return {
        "hookInstance": str(uuid.uuid4()),
        "hook": "patient-view",
        "context": {"userId": "Practitioner/bench", "patientId": patient["id"]},
        "prefetch": prefetch,
    }


async def cds(
    client: httpx.AsyncClient, ehr: Ehr, service_url: str, path: Path, repeats: int
) -> tuple[float, int]:
    call = hook_request(path)

    async def once() -> tuple[float, int]:
        started = time.perf_counter()
        response = await client.post(
            "/cds-services/medboard-patient-view",
            json=call,
            headers={"Authorization": f"Bearer {ehr.token(service_url)}"},
        )
        response.raise_for_status()
        return time.perf_counter() - started, len(response.json()["cards"])

    await once()
    runs = [await once() for _ in range(repeats)]
    return median([t for t, _ in runs]), runs[-1][1]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    records = [("jenny-m (mCODE)", JENNY), (f"{largest_synthea().stem} (largest Synthea)", largest_synthea())]

    baselines = {name: await direct(path, args.repeats) for name, path in records}
    with tempfile.TemporaryDirectory() as folder:
        ehr = Ehr(Path(folder))
        settings = ServiceSettings(
            api_tokens=[TOKEN], model="none", port=0, cds_issuers={ISSUER: str(ehr.jwks)}, cds_budget_s=30
        )
        with Server(settings) as url:
            service_url = f"{settings.base_url}/cds-services/medboard-patient-view"
            async with httpx.AsyncClient(base_url=url, timeout=120) as client:
                print(f"service on {url}, --model none, p50 of {args.repeats} runs after one warm-up\n")
                print(f"{'case':<34} {'direct run_case':>16} {'POST→done':>12} {'ratio':>7}")
                for name, path in records:
                    took = await via_service(client, path, args.repeats)
                    base = baselines[name]
                    print(f"{name:<34} {base * 1000:>13.0f} ms {took * 1000:>9.0f} ms {took / base:>6.2f}x")
                header = f"{'CDS patient-view (prefetch)':<34} {'direct run_case':>16} {'cards p50':>12}"
                print(f"\n{header} {'ratio':>7}")
                for name, path in records:
                    took, cards = await cds(client, ehr, service_url, path, args.repeats)
                    base = baselines[name]
                    print(
                        f"{name:<34} {base * 1000:>13.0f} ms {took * 1000:>9.0f} ms {took / base:>6.2f}x"
                        f"   ({cards} cards)"
                    )
    print(
        "\nratio = service latency / direct run_case on the same file in this process. The CDS direct\n"
        "baseline runs the whole record; the prefetch holds only the five prefetched resource types."
    )


if __name__ == "__main__":
    asyncio.run(main())
