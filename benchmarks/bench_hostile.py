"""The issue-15 bombs through the real CLI: exit code, wall time and peak memory, bounded.

    .venv/bin/python benchmarks/bench_hostile.py [--memory-cap-gib 2] [--timeout 120] [--only NAME]

Each bomb is built by the hostile corpus (tests/hostile: small files on disk, e.g. a 4 MB gzip
NRRD that inflates to 4 GiB) and run as a child process under an address-space cap
(``RLIMIT_AS``) and a wall timeout, exactly as tests/test_hostile_cli.py runs it. Printed per
bomb: exit code, wall time, the child's own peak RSS (``os.wait4``), whether it ran into the
memory cap (``MemoryError``) or the timeout, and both figures as ratios to a baseline run in the
same process: ``medboard record`` of the small real Jenny M bundle (40 entries).

"Before" is main's code; run it again after a fix for "after". A row with CAP or TIMEOUT means
the input was *not* bounded by medboard itself but by this harness's limits.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from hostile import CORPUS  # noqa: E402
from hostile.corpus import JENNY_BUNDLE, Invocation  # noqa: E402
from hostile.runner import Outcome, child_env, run_cli  # noqa: E402
from hostile.verify_inputs import name_through_verify  # noqa: E402


def _corpus(item_id: str) -> Callable[[Path], Invocation]:
    return CORPUS[item_id].build


BOMBS: dict[str, Callable[[Path], Invocation]] = {
    "gzip NRRD bomb (4 MB → 4 GiB), image frames": _corpus("gzip-nrrd-bomb-4-gib"),
    "deflated DICOM bomb (1 MB → 1 GiB), image frames": _corpus("deflated-dicom-bomb"),
    "PNG 140000×1, image frames": _corpus("png-140000-by-1-through-image-frames"),
    "NIfTI header 30000³, image frames": _corpus("nifti-header-claiming-30000-cubed"),
    "NIfTI .nii.gz bomb (4 GiB), image frames": _corpus("nifti-gz-bomb"),
    "JSON nested 100k deep, record": _corpus("json-nested-100k-deep"),
    "100k-entry bundle, record": _corpus("a-100k-entry-bundle"),
    "100k-entry bundle, run": _corpus("a-100k-entry-bundle-through-run"),
    "/dev/zero as summary, verify": _corpus("verify-summary-dev-zero"),
    "/dev/zero, recist": _corpus("recist-dev-zero"),
    "/dev/zero as cassette, run --replay": _corpus("replay-dev-zero"),
    "60 MB name, verify": lambda tmp: name_through_verify(tmp, 60),
}


def measure(build: Callable[[Path], Invocation], timeout: float, cap: int) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="medboard-bench-") as folder:
        work, home = Path(folder) / "work", Path(folder) / "home"
        work.mkdir()
        home.mkdir()
        invocation = build(work)
        try:
            return run_cli(
                invocation.args,
                cwd=work,
                env=child_env(home, invocation.env),
                timeout=timeout,
                memory_cap=cap,
            )
        finally:
            if invocation.resource is not None:
                invocation.resource.close()


def baseline(timeout: float, cap: int) -> Outcome:
    def build(tmp: Path) -> Invocation:
        shutil.copy(JENNY_BUNDLE, tmp / "bundle.json")
        return Invocation(["record", str(tmp / "bundle.json"), "--json"], expect=(0,))

    return measure(build, timeout, cap)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--memory-cap-gib", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--only", help="run only the bombs whose name contains this text")
    args = parser.parse_args()
    cap = int(args.memory_cap_gib * 1024**3)

    base = baseline(args.timeout, cap)
    print(
        f"baseline (medboard record, Jenny M, 40 entries): exit {base.returncode}, "
        f"{base.wall_s:.2f} s, peak RSS {base.peak_rss_mib:.0f} MiB; "
        f"cap {args.memory_cap_gib:g} GiB address space, timeout {args.timeout:.0f} s"
    )
    header = f"{'bomb':<50} {'exit':>4} {'wall s':>7} {'×base':>6} {'RSS MiB':>8} {'×base':>6}  bounded by"
    print(header)
    print("-" * len(header))
    for name, build in BOMBS.items():
        if args.only and args.only not in name:
            continue
        o = measure(build, args.timeout, cap)
        limits = [w for w, hit in (("TIMEOUT", o.timed_out), ("MEMORY CAP", o.hit_memory_cap)) if hit]
        tail = o.stderr.strip().splitlines()[-1][:70] if o.stderr.strip() else ""
        print(
            f"{name:<50} {o.returncode:>4} {o.wall_s:>7.1f} {o.wall_s / base.wall_s:>6.1f} "
            f"{o.peak_rss_mib:>8.0f} {o.peak_rss_mib / max(base.peak_rss_mib, 1):>6.1f}  "
            f"{', '.join(limits) or 'medboard'}  {tail}",
            flush=True,
        )


if __name__ == "__main__":
    main()
