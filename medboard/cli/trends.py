"""`medboard trends BUNDLE`: each analyte's series and statistics; PSA doubling time and velocity.

The JSON (``--json``) is the contract: ``{"analytes": [{"loinc", "label", "unit", "points": [...],
"latest", "baseline", "change_from_baseline", "percent_change_from_baseline",
"change_from_previous", "direction", "nadir", "peak", "crossed_reference_range", "skipped": [...]}]}``,
and for PSA (LOINC 2857-1) also ``psa_doubling_time_months``, ``psa_velocity_per_year`` and
``since``, computed over values on or after ``--since`` (default: the most recent recorded
treatment change, else all values). CEA and CA-125 carry ``doubling_time_months`` and
``velocity_per_year`` likewise.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from medboard.cli.terminal import inert_json, line  # record/header text printed inert

if TYPE_CHECKING:  # pragma: no cover
    from medboard.tools.longitudinal.kinetics import MarkerKinetics
    from medboard.tools.longitudinal.trends import AnalyteTrend, TrendPoint


def _point_json(point: TrendPoint | None) -> dict[str, Any] | None:
    if point is None:
        return None
    out: dict[str, Any] = {
        "date": point.date,
        "value": point.value,
        "unit": point.unit,
        "reference": point.reference,
    }
    if point.comparator:
        out["comparator"] = point.comparator
    if point.reference_status:
        out["reference_status"] = point.reference_status
    return out


def analyte_json(trend: AnalyteTrend, kinetics: MarkerKinetics | None) -> dict[str, Any]:
    """One analyte in the CLI's JSON shape."""
    out: dict[str, Any] = {
        "loinc": trend.loinc,
        "label": trend.label,
        "unit": trend.unit,
        "points": [_point_json(p) for p in trend.points],
        "censored": [_point_json(p) for p in trend.censored],
        "latest": _point_json(trend.latest),
        "baseline": _point_json(trend.baseline),
        "change_from_baseline": trend.change_from_baseline,
        "percent_change_from_baseline": trend.percent_change_from_baseline,
        "change_from_previous": trend.change_from_previous,
        "percent_change_from_previous": trend.percent_change_from_previous,
        "direction": trend.direction,
        "direction_from_baseline": trend.direction_from_baseline,
        "nadir": _point_json(trend.nadir),
        "peak": _point_json(trend.peak),
        "crossed_reference_range": trend.crossed_reference_range,
        "reference_crossings": [c.model_dump() for c in trend.reference_crossings],
        "skipped": [{"reference": s.reference, "reason": s.reason} for s in trend.skipped],
    }
    if kinetics is not None:
        prefix = "psa_" if trend.loinc == "2857-1" else ""
        out[f"{prefix}doubling_time_months"] = kinetics.doubling_time_months
        out[f"{prefix}velocity_per_year"] = kinetics.velocity_per_year
        out["since"] = kinetics.since
        out["since_reason"] = kinetics.since_reason
        out["ln_slope_per_month"] = kinetics.ln_slope_per_month
        out["kinetics_points"] = [p.reference for p in kinetics.used]
        out["doubling_time_reason"] = kinetics.doubling_time_reason
        out["velocity_reason"] = kinetics.velocity_reason
        out["kinetics_excluded"] = [{"reference": s.reference, "reason": s.reason} for s in kinetics.excluded]
    return out


def _print_text(trend: AnalyteTrend, kinetics: MarkerKinetics | None) -> None:
    from medboard.tools.longitudinal.trends import fmt

    typer.echo(line(f"{trend.label} [LOINC {trend.loinc}] ({trend.unit or 'no unit'})"))
    for point in trend.points:
        flag = f"  [{point.reference_status}]" if point.reference_status else ""
        typer.echo(f"  {point.day}  {fmt(point.value):>10}{flag}")
    for point in trend.censored:
        typer.echo(f"  {point.day}  {point.comparator}{fmt(point.value):>9}  (censored)")
    typer.echo(line(f"  {trend.describe()}"))
    if kinetics is not None:
        typer.echo(line(f"  {kinetics.describe()}"))
    for skipped in trend.skipped:
        typer.echo(line(f"  skipped {skipped.reference}: {skipped.reason}"))
    typer.echo("")


def register(app: typer.Typer) -> None:
    @app.command("trends")
    def trends_command(
        bundle: Path = typer.Argument(..., help="FHIR Bundle (or resource file / folder) of one patient."),
        loinc: str = typer.Option(None, "--loinc", help="Only this LOINC code (e.g. 2857-1 for PSA)."),
        since: str = typer.Option(
            None,
            "--since",
            help="YYYY-MM-DD: tumour-marker kinetics use values on or after this day "
            "(default: the most recent recorded treatment change, else all values).",
        ),
        json_out: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
        patient: str = typer.Option(
            None, "--patient", help="Patient id when the source holds several (Bulk Data NDJSON)."
        ),
    ) -> None:
        """Lab and tumour-marker trends: change, direction, nadir, peak, PSA doubling time and velocity."""
        from medboard.agents.longitudinal.core import default_since
        from medboard.errors import MedboardInputError
        from medboard.tools.fhir import load_record
        from medboard.tools.longitudinal.kinetics import marker_kinetics
        from medboard.tools.longitudinal.timeline import build_timeline
        from medboard.tools.longitudinal.trends import TUMOR_MARKER_LOINCS, compute_trends

        since_day: date | None = None
        if since is not None:
            try:
                since_day = date.fromisoformat(since)
            except ValueError:
                raise MedboardInputError(f"--since {since!r} is not a YYYY-MM-DD date") from None
        record = load_record(bundle, patient=patient)
        report = compute_trends(record.facts, loinc=loinc)
        if since_day is not None:
            window_start, window_reason = since_day, "given with --since"
        else:
            window_start, window_reason, _ = default_since(build_timeline(record.facts))

        analytes = []
        for trend in report.analytes:
            kinetics = None
            if trend.loinc in TUMOR_MARKER_LOINCS:
                kinetics = marker_kinetics(trend, since=window_start, since_reason=window_reason)
            analytes.append((trend, kinetics))

        if json_out:
            payload = {
                "source": str(bundle),
                "patient": record.patient_ref,
                "analytes": [analyte_json(t, k) for t, k in analytes],
                "unassigned": [{"reference": s.reference, "reason": s.reason} for s in report.unassigned],
            }
            typer.echo(inert_json(json.dumps(payload, indent=2, ensure_ascii=False)))
            return
        if not analytes:
            typer.echo(
                f"No numeric lab, vital or tumour-marker series{f' for LOINC {loinc}' if loinc else ''}."
            )
        for trend, kinetics in analytes:
            _print_text(trend, kinetics)
        for skipped in report.unassigned:
            typer.echo(line(f"skipped {skipped.reference}: {skipped.reason}"))
