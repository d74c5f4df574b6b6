"""`--executor ray`: a board's cases run on Ray — a local Ray on loopback, or an existing cluster.

Why Ray and not a scheduler of our own: the design says batches beyond one machine go to an
existing distributed engine. Ray is imported only in here, only when this executor runs, so the
core install never needs it (`pip install 'medboard[ray]'`).

How the work is laid out:
- `workers` case workers, each a Ray async actor (one process, 1 CPU) that runs several cases at
  once on its own event loop, exactly as `LocalExecutor` does in one process: a case spends its
  time waiting on the model, so a process per case would multiply start-up and memory (every
  worker imports the whole medboard stack) for nothing. The driver keeps at most `concurrency`
  cases in flight, each sent to the least-loaded worker; a case is one actor task that runs
  `run_job(job, gate=RayGate(...))` and returns the `CaseOutcome` with its output files as bytes,
  so it works on a cluster with no shared filesystem (the case's own input files must be readable
  where it runs: the same paths, or a FHIR server every worker reaches).
- one `EndpointGate` actor per model endpoint (per vLLM replica), named after its URL, so model
  requests across all workers are capped at that endpoint's `max_concurrency`
  (`medboard.orchestrator.board.ray_gate`).
- a progress relay actor: workers push each case's stages, the driver drains them while it waits,
  so the board's per-case progress bars move as they do locally.
- the driver's `MEDBOARD_*` settings (model endpoint, budgets, FHIR credentials) travel to the
  workers with their actor, so a remote worker calls the same endpoint with the same settings
  (`MEDBOARD_API_TOKEN`, the HTTP service's own tokens, stays behind).

Loopback only, when Ray is started here: on these machines Ray binds its servers to the machine's
network address and to every interface by default. `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` keeps
every listener on 127.0.0.1 (checked with `ss -ltnp` in tests/test_ray_executor.py; the node IP
alone does not do it), and the node advertises 127.0.0.1. The object store is small (80 MB: what
travels is a case's outputs), the dashboard is off, Ray's session files go to a temporary folder
removed at the end, and `ray.shutdown()` ends every process Ray started. Connected to an existing
cluster (`address="ray://head:10001"` or ``"auto"``), it disconnects at the end and stops nothing.

A case that fails is a failed outcome (as with every executor); a worker that dies fails the cases
it was running, hands back their model-call slots, and the board goes on with the workers left.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import math
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.util import find_spec
from types import ModuleType
from typing import Any

from medboard.errors import ExecutorError, MedboardError, MedboardInputError
from medboard.orchestrator.board import process_tree
from medboard.orchestrator.board.jobs import CaseJob, CaseOutcome, run_job
from medboard.orchestrator.board.ray_gate import EndpointGate, RayGate, gate_name, lease_seconds
from medboard.textsafety import neutralize_line, redact_url

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'medboard[ray]'"
#: Ray's namespace for medboard's named actors (the endpoint gates).
NAMESPACE = "medboard"
DEFAULT_OBJECT_STORE_BYTES = 80 * 1024 * 1024
#: The environment that keeps a locally started Ray on 127.0.0.1 (see the module docstring).
LOOPBACK_VAR = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
LOOPBACK_ENV = {LOOPBACK_VAR: "0"}
#: Driver settings not sent to workers: the HTTP service's own API tokens.
NOT_FORWARDED = frozenset({"MEDBOARD_API_TOKEN"})
#: What a case worker imports before it takes cases.
WARM_MODULES = ("medboard.api", "medboard.orchestrator.case", "medboard.orchestrator.flow", "medboard.report")
#: How often the driver looks for finished cases and progress while it waits (seconds).
POLL_S = 0.2


def import_ray() -> ModuleType:
    """Ray, or the one-line error that says how to get it (bad input: exit 2)."""
    try:
        import ray
    except ImportError:
        raise MedboardInputError(f"Ray is not installed ({INSTALL_HINT})", source="--executor ray") from None
    return ray


def require_ray() -> None:
    """Fail early (exit 2) when Ray is missing, without importing it: a local start must import it
    under the loopback setting (`_loopback`), which Ray reads when it is imported."""
    if "ray" in sys.modules and sys.modules["ray"] is not None:
        return
    try:
        found = find_spec("ray") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MedboardInputError(f"Ray is not installed ({INSTALL_HINT})", source="--executor ray")


@contextlib.contextmanager
def _loopback() -> Iterator[ModuleType]:
    """Ray imported and set to stay on 127.0.0.1 while a local instance starts.

    Ray decides whether a node may serve other machines once, when it is imported
    (`ray_constants.ENABLE_RAY_CLUSTER`, from RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER), and the processes it
    starts decide again from the environment they inherit. So the variable is set before the import
    and while Ray spawns its processes, and when Ray was imported earlier without it, the decision
    it took is overridden for the start; both are put back afterwards (a later connection to a real
    cluster from this process must advertise the machine's address, not 127.0.0.1).
    """
    outside = os.environ.get(LOOPBACK_VAR)  # what the process says when we are done
    with _environment(LOOPBACK_ENV):
        ray = import_ray()
        constants: Any = getattr(getattr(ray, "_private", None), "ray_constants", None)
        known = hasattr(constants, "ENABLE_RAY_CLUSTER")
        if known:
            constants.ENABLE_RAY_CLUSTER = False
        try:
            yield ray
        finally:
            if known:  # Ray's own rule: the variable if set, else "not on Windows or macOS"
                default = not getattr(constants, "IS_WINDOWS_OR_OSX", False)
                allowed = default if outside is None else outside.strip().lower() in ("1", "true")
                constants.ENABLE_RAY_CLUSTER = allowed


def forwarded_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The driver's medboard settings that workers need (model endpoint, budgets, FHIR auth)."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if k.startswith("MEDBOARD_") and k not in NOT_FORWARDED}


class CaseWorker:
    """One worker process: runs the cases it is sent concurrently (a Ray async actor)."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        os.environ.update(env)
        # Import the case flow and the renderer now (seconds: autogen, matplotlib, fhir.resources),
        # so a worker is ready when it says so and its first case does not pay for it.
        for module in WARM_MODULES:
            importlib.import_module(module)

    async def run(self, job: CaseJob, gate: RayGate | None, relay: Any) -> CaseOutcome:
        def progress(stage: str) -> None:
            relay.push.remote(job.id, stage)  # fire and forget

        return await run_job(job, gate=gate, progress=progress)

    async def pid(self) -> int:
        return os.getpid()


class ProgressRelay:
    """Stages pushed by workers, drained by the driver (a Ray async actor)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    async def push(self, case_id: str, stage: str) -> None:
        self.events.append((case_id, stage))

    async def drain(self) -> list[tuple[str, str]]:
        events, self.events = self.events, []
        return events


@dataclass
class _Worker:
    name: str
    actor: Any
    load: int = 0
    alive: bool = True


@dataclass
class _Endpoint:
    actor: Any
    lease_s: float


@dataclass
class RayRun:
    """What one `run_all` set up: for the caller's checks (tests, benchmark) after the run."""

    started_ray: bool = False
    #: True when Ray was started here (not an existing cluster): its processes are ours to end.
    local: bool = False
    #: Ray started or connected (`ray.init`); the case workers up; `ray.shutdown()` and the wait.
    start_seconds: float = 0.0
    workers_seconds: float = 0.0
    stop_seconds: float = 0.0
    #: Processes under this one that were there before Ray started (not Ray's).
    before: set[int] = field(default_factory=set)
    #: Ray's processes that were still running after the shutdown and its wait (killed): none, normally.
    survivors: set[int] = field(default_factory=set)
    worker_pids: list[int] = field(default_factory=list)
    gates: dict[str, Any] = field(default_factory=dict)  # endpoint label -> GateStats


class RayExecutor:
    """Runs a board's jobs on Ray (see the module docstring).

    `address`: None starts a private local Ray on 127.0.0.1 with `workers` CPUs; ``"auto"`` or
    ``"ray://host:10001"`` connects to an existing cluster. `workers`: case worker processes.
    `object_store_memory`: bytes for a locally started Ray's object store.
    """

    def __init__(
        self,
        *,
        address: str | None = None,
        workers: int = 2,
        object_store_memory: int = DEFAULT_OBJECT_STORE_BYTES,
        gate: Any | None = None,
        **_: Any,
    ) -> None:
        require_ray()  # fail before anything runs when Ray is missing
        self._ray: ModuleType | None = None
        if workers < 1:
            raise MedboardInputError("must be at least 1", source="--ray-workers")
        self.address = address or None
        self.workers = workers
        self.object_store_memory = object_store_memory
        #: `gate=` from the board (an in-process gate) cannot span processes: Ray's own gates are used.
        del gate
        self.last_run: RayRun | None = None

    # ------------------------------------------------------------------------------ run_all

    async def run_all(
        self, jobs: list[CaseJob], *, concurrency: int, progress: Callable[[str, str], None]
    ) -> list[CaseOutcome]:
        if not jobs:
            return []
        run = RayRun()
        self.last_run = run
        started = time.perf_counter()
        # Start and stop block the loop on purpose (seconds, while the board has nothing else to
        # do): a Ctrl-C then lands before or after them, never halfway, and the stop runs to its
        # end even when the CLI cancels the run again and again (medboard.cli.interrupts).
        temp_dir = self._start(run)
        try:
            run.start_seconds = time.perf_counter() - started
            return await self._run(jobs, max(1, concurrency), progress, run)
        finally:
            self._stop(run, temp_dir)

    # ------------------------------------------------------------------------------- start / stop

    @property
    def ray(self) -> ModuleType:
        if self._ray is None:
            self._ray = import_ray()
        return self._ray

    def _start(self, run: RayRun) -> str | None:
        """Connect, or start a private local Ray on loopback; returns the temporary folder to remove."""
        quiet = {"log_to_driver": False, "logging_level": logging.ERROR, "namespace": NAMESPACE}
        if "ray" in sys.modules and self.ray.is_initialized():
            return None  # the caller's own Ray session: use it, stop nothing of it
        if self.address is not None:
            try:
                self.ray.init(address=self.address, **quiet)
            except Exception as error:
                raise ExecutorError(
                    f"Ray cluster {redact_url(self.address)}: cannot connect "
                    f"({neutralize_line(type(error).__name__)})"
                ) from error
            run.started_ray = True  # connected here: disconnect at the end (the cluster stays)
            return None
        temp_dir = tempfile.mkdtemp(prefix="mbray-")
        run.before = process_tree.descendants(os.getpid())
        run.local = True
        try:
            with _loopback() as ray:
                self._ray = ray
                ray.init(
                    num_cpus=self.workers,
                    include_dashboard=False,
                    object_store_memory=self.object_store_memory,
                    _node_ip_address="127.0.0.1",
                    _temp_dir=temp_dir,
                    **quiet,
                )
            run.started_ray = True
            node_ip = ray.util.get_node_ip_address()
            if node_ip != "127.0.0.1":
                raise RuntimeError(f"the local Ray node took address {node_ip}, not 127.0.0.1")
        except BaseException as error:  # Ray's own failure, or a Ctrl-C while it started: undo it
            with contextlib.suppress(Exception):
                self.ray.shutdown()
            process_tree.wait_gone(process_tree.descendants(os.getpid()) - run.before)
            shutil.rmtree(temp_dir, ignore_errors=True)
            if isinstance(error, Exception) and not isinstance(error, MedboardError):
                reason = neutralize_line(str(error))[:200]
                raise ExecutorError(f"Ray did not start locally ({reason})") from error
            raise
        return temp_dir

    def _stop(self, run: RayRun, temp_dir: str | None) -> None:
        ray = self.ray
        started = time.perf_counter()
        ray_processes = process_tree.descendants(os.getpid()) - run.before if run.local else set()
        if run.started_ray:
            ray.shutdown()
        # Workers exit a moment after their raylet: wait for them, so nothing outlives the board.
        run.survivors = process_tree.wait_gone(ray_processes)
        if run.survivors:
            log.warning("%d Ray process(es) outlived ray.shutdown() and were killed", len(run.survivors))
        run.stop_seconds = time.perf_counter() - started
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)

    # ------------------------------------------------------------------------------- the run

    async def _run(
        self,
        jobs: list[CaseJob],
        concurrency: int,
        progress: Callable[[str, str], None],
        run: RayRun,
    ) -> list[CaseOutcome]:
        ray = self.ray
        per_worker = max(1, math.ceil(concurrency / self.workers))
        worker_cls = ray.remote(CaseWorker).options(
            num_cpus=1, max_concurrency=per_worker, scheduling_strategy="SPREAD"
        )
        env = forwarded_env()
        started = time.perf_counter()
        # Worker names are the gates' lease owners: unique across every board on a cluster.
        board = uuid.uuid4().hex[:8]
        workers = [
            _Worker(name, worker_cls.remote(name, env))
            for name in (f"worker-{i}-{board}" for i in range(self.workers))
        ]
        relay = ray.remote(ProgressRelay).options(num_cpus=0).remote()
        outcomes: list[CaseOutcome | None] = [None] * len(jobs)
        queue = list(enumerate(jobs))
        pending: dict[Any, tuple[int, _Worker]] = {}
        finished: set[str] = set()
        for job in jobs:
            progress(job.id, "queued")

        def relay_progress(events: list[tuple[str, str]]) -> None:
            for case_id, stage in events:
                if case_id not in finished:
                    progress(case_id, stage)

        try:
            endpoints = await asyncio.to_thread(self._endpoint_gates, jobs)
            try:
                pids = [w.actor.pid.remote() for w in workers]
                run.worker_pids = await asyncio.to_thread(ray.get, pids)
                run.workers_seconds = time.perf_counter() - started
            except Exception as error:
                raise ExecutorError(f"Ray case workers did not start ({type(error).__name__})") from error
            while queue or pending:
                alive = [w for w in workers if w.alive]
                while queue and len(pending) < concurrency and alive:
                    index, job = queue.pop(0)
                    worker = min(alive, key=lambda w: w.load)
                    gate = _gate_for(job, endpoints, owner=worker.name)
                    ref = worker.actor.run.remote(job, gate, relay)
                    pending[ref] = (index, worker)
                    worker.load += 1
                if not pending:  # no worker left alive for the rest
                    for index, job in queue:
                        outcomes[index] = _failed(job, "no Ray case worker left alive", 1)
                    queue.clear()
                    break
                ready, _ = await asyncio.to_thread(ray.wait, list(pending), num_returns=1, timeout=POLL_S)
                relay_progress(await asyncio.to_thread(ray.get, relay.drain.remote()))
                for ref in ready:
                    index, worker = pending.pop(ref)
                    worker.load -= 1
                    job = jobs[index]
                    outcome = await asyncio.to_thread(self._outcome_of, ref, job, worker, endpoints)
                    outcomes[index] = outcome
                    finished.add(job.id)
                    progress(job.id, outcome.status)
            run.gates = await asyncio.to_thread(self._gate_stats, endpoints)
        except BaseException:
            for ref in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(ref)
            raise
        finally:
            if not run.started_ray:  # the caller's Ray session goes on: end what we made in it
                for worker in workers:
                    with contextlib.suppress(Exception):
                        ray.kill(worker.actor)
                with contextlib.suppress(Exception):
                    ray.kill(relay)
        return [outcome for outcome in outcomes if outcome is not None]

    def _outcome_of(
        self, ref: Any, job: CaseJob, worker: _Worker, endpoints: dict[str, _Endpoint]
    ) -> CaseOutcome:
        ray = self.ray
        try:
            outcome = ray.get(ref)
        except ray.exceptions.RayActorError:
            worker.alive = False
            for endpoint in endpoints.values():  # its model-call slots come back at once
                with contextlib.suppress(Exception):
                    endpoint.actor.forfeit.remote(worker.name)
            log.warning("a Ray case worker died; its cases are marked failed")
            return _failed(job, "the Ray worker running this case died", 1)
        except ray.exceptions.RayTaskError as error:  # run_job raised: a cancellation or a bug
            cause = type(error.cause).__name__ if getattr(error, "cause", None) else "RayTaskError"
            return _failed(job, f"internal error on the Ray worker ({neutralize_line(cause)})", 1)
        if not isinstance(outcome, CaseOutcome):
            return _failed(job, "the Ray worker returned no case outcome", 1)
        return outcome

    def _endpoint_gates(self, jobs: list[CaseJob]) -> dict[str, _Endpoint]:
        """One `EndpointGate` actor per model endpoint the jobs call (replays and 'none' call none)."""
        ray = self.ray
        gate_cls = ray.remote(EndpointGate)
        gates: dict[str, _Endpoint] = {}
        for job in jobs:
            endpoint = endpoint_of(job)
            if endpoint is None or endpoint.base_url in gates:
                continue
            actor = gate_cls.options(
                name=gate_name(endpoint.base_url),
                namespace=NAMESPACE,
                get_if_exists=True,
                num_cpus=0,
                max_concurrency=1000,
                # On a shared cluster the gate outlives this board, so boards that overlap share
                # one cap per replica; a private local Ray ends with its board.
                lifetime="detached" if self.address is not None else None,
            ).remote(endpoint.max_concurrency, endpoint.safe_url)
            stats = ray.get(actor.stats.remote())
            if stats.limit != endpoint.max_concurrency:
                log.warning(
                    "model endpoint %s was gated at %d requests on this cluster; now %d",
                    endpoint.safe_url,
                    stats.limit,
                    endpoint.max_concurrency,
                )
                ray.get(actor.resize.remote(endpoint.max_concurrency))
            gates[endpoint.base_url] = _Endpoint(actor, lease_seconds(endpoint.timeout_s))
        return gates

    def _gate_stats(self, endpoints: dict[str, _Endpoint]) -> dict[str, Any]:
        ray = self.ray
        stats = ray.get([e.actor.stats.remote() for e in endpoints.values()])
        return {s.label: s for s in stats}


def endpoint_of(job: CaseJob) -> Any | None:
    """The model endpoint a job calls (a `ModelEndpoint`), or None: no model, a replay, 'local'."""
    from medboard.api import LOCAL_MODEL, NO_MODEL, resolve_model_spec
    from medboard.llm.endpoint import ModelEndpoint

    if job.replay is not None:
        return None
    spec = resolve_model_spec(job.model)
    if spec in (NO_MODEL, LOCAL_MODEL) or not spec.startswith(("http://", "https://")):
        return None  # 'local' starts its own server per case; a bad spec fails in the case itself
    settings: dict[str, Any] = {"base_url": spec, **job.model_settings}
    if job.model_name:
        settings["model"] = job.model_name
    try:
        return ModelEndpoint.from_sources(settings)
    except (MedboardError, ValueError):
        return None  # the case reports the bad setting itself


def _gate_for(job: CaseJob, endpoints: dict[str, _Endpoint], *, owner: str) -> RayGate | None:
    endpoint = endpoint_of(job)
    if endpoint is None or endpoint.base_url not in endpoints:
        return None
    gate = endpoints[endpoint.base_url]
    return RayGate(gate.actor, lease_s=gate.lease_s, owner=owner)


def _failed(job: CaseJob, error: str, exit_code: int) -> CaseOutcome:
    return CaseOutcome(id=job.id, status="failed", error=error, exit_code=exit_code, question=job.question)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """`values` set in os.environ while Ray starts its processes (they inherit it), then restored."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
