"""`medboard record PATH`: what medboard reads from a FHIR source, as tables or JSON.

The overview is the first thing to look at when a case surprises you: it shows exactly the facts
the specialists start from (problems, staging and biomarkers, latest labs with abnormal flags,
medications, procedures, imaging, documents) and what the loader warned about or skipped.

Every cell is record text: printed through `medboard.cli.terminal.cell` (control and bidi
characters shown as escapes, never read as rich markup or emoji, one line). ``--json`` stays the
faithful record text; `inert_json` only writes its terminal-active characters as ``\\uXXXX``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from medboard.cli import fhir_source

if TYPE_CHECKING:
    from rich.console import Console

    from medboard.models import Fact
    from medboard.tools.fhir import PatientRecord

_MAX_ROWS = 30


def register(app: typer.Typer) -> None:
    @app.command("record")
    def record_command(
        ctx: typer.Context,
        path: Path = typer.Argument(
            None, help="FHIR Bundle / resource / NDJSON file, or a folder of them (or use --fhir-server)."
        ),
        patient: str = typer.Option(
            None,
            "--patient",
            help="Patient id: the one to pull with --fhir-server, or one of several in a source.",
        ),
        fhir_server: str = fhir_source.FHIR_SERVER,
        fhir_token: str = fhir_source.FHIR_TOKEN,
        smart_client_id: str = fhir_source.SMART_CLIENT_ID,
        smart_key: Path = fhir_source.SMART_KEY,
        smart_kid: str = fhir_source.SMART_KID,
        smart_alg: str = fhir_source.SMART_ALG,
        smart_token_url: str = fhir_source.SMART_TOKEN_URL,
        smart_scope: str = fhir_source.SMART_SCOPE,
        lenient: bool = typer.Option(False, "--lenient", help="Skip bad entries and list them."),
        json_out: bool = typer.Option(False, "--json", help="Print the facts as JSON."),
    ) -> None:
        """Load a FHIR record and show the facts medboard extracts from it."""
        record = fhir_source.load_source_record(
            path,
            ctx=ctx,
            patient=patient,
            lenient=lenient,
            server=fhir_source.server_source(
                ctx=ctx,
                path=path,
                path_name="a PATH",
                fhir_server=fhir_server,
                patient=patient,
                token=fhir_token,
                smart_client_id=smart_client_id,
                smart_key=smart_key,
                smart_kid=smart_kid,
                smart_alg=smart_alg,
                smart_token_url=smart_token_url,
                smart_scope=smart_scope,
            ),
        )
        if json_out:
            from medboard.cli.terminal import inert_json

            sys.stdout.write(inert_json(json.dumps(record_to_json(record), ensure_ascii=False)) + "\n")
        else:
            print_overview(record)


def record_to_json(record: PatientRecord) -> dict[str, Any]:
    """The ``--json`` payload: patient, facts, warnings, skipped entries, dangling references."""
    patient = next((f for f in record.facts if f.kind.value == "patient"), None)
    return {
        "source": record.source,
        "patient": (
            {"reference": record.patient_ref, **patient.details.model_dump(mode="json", exclude={"kind"})}
            if patient
            else ({"reference": record.patient_ref} if record.patient_ref else None)
        ),
        "facts": [fact.model_dump(mode="json") for fact in record.facts],
        "warnings": list(record.warnings),
        "skipped": [{"location": s.location, "problem": s.problem} for s in record.skipped],
        "dangling": [{"source": d.source, "path": d.path, "target": d.target} for d in record.dangling],
    }


# --- tables ----------------------------------------------------------------------------------


def _day(value: str | None) -> str:
    from medboard.models import iso_day  # lazily, like every model import of the CLI

    return iso_day(value) if value else ""


def _medication_source(fact: Fact) -> str:
    """The resource type a medication fact was read from (Request, Statement, ...)."""
    from medboard.models.fact_kinds import MedicationDetails

    return (fact.details.resource_type or "") if isinstance(fact.details, MedicationDetails) else ""


def _value(fact: Fact) -> str:
    if fact.value is None:
        return ""
    text = f"{fact.value:g}" if isinstance(fact.value, float) else str(fact.value)
    text = f"{fact.comparator or ''}{text}"
    return f"{text} {fact.unit}" if fact.unit else text


def _range(fact: Fact) -> str:
    rng = fact.reference_range
    if rng is None:
        return ""
    if rng.low is not None or rng.high is not None:
        low = "" if rng.low is None else f"{rng.low:g}"
        high = "" if rng.high is None else f"{rng.high:g}"
        return f"{low}–{high}"
    return rng.text or ""


def _flag(fact: Fact) -> Text:
    """The abnormal flag, styled (the interpretation code is source text: an inert `cell`)."""
    from medboard.cli.terminal import cell

    if fact.abnormal is True:
        return cell(fact.interpretation or "abnormal", style="bold red")
    if fact.abnormal is False:
        return cell("normal", style="green")
    code = fact.interpretation or ""
    return cell(code if len(code) <= 3 else "")  # HL7 flags (H, LL, ...), not answer codes


class _Table:
    """A rich Table whose cells are source text: inert (`cell`), so ``[#/volume]`` is not markup
    and an ANSI escape in a name is shown, not obeyed."""

    def __init__(self, title: str, *columns: str) -> None:
        from rich.table import Table

        self.table = Table(title=title, title_justify="left", show_lines=False, expand=False)
        for column in columns:
            self.table.add_column(column, overflow="fold")

    def add_row(self, *cells: str | Text) -> None:
        """Strings become inert cells; a `Text` (medboard's own styled cell, e.g. `_flag`) is kept."""
        from medboard.cli.terminal import cell

        self.table.add_row(*(text if isinstance(text, Text) else cell(text) for text in cells))


def _table(title: str, *columns: str) -> _Table:
    return _Table(title, *columns)


def _emit(console: Console, table: _Table, total: int) -> None:
    if total:
        if total > _MAX_ROWS:
            table.table.caption = f"{total - _MAX_ROWS} more not shown (use --json for all)"
        console.print(table.table)


def _latest_by_code(facts: Iterable[Fact]) -> list[Fact]:
    """The most recent fact per code (or label), newest first."""
    latest: dict[str, Fact] = {}
    for fact in facts:
        key = next((c.code for c in fact.codes if c.code), None) or fact.label
        if fact.id.count("#"):
            key = f"{key}#{fact.label}"
        current = latest.get(key)
        if current is None or (fact.date or "") > (current.date or ""):
            latest[key] = fact
    return sorted(latest.values(), key=lambda f: f.date or "", reverse=True)


def print_overview(record: PatientRecord, console: Console | None = None) -> None:
    from rich.console import Console

    from medboard.models.fact_kinds import (
        ConditionDetails,
        ImagingStudyDetails,
        PatientDetails,
        ProcedureDetails,
        StagingDetails,
    )

    console = console or Console()
    facts = record.facts
    by_kind: dict[str, list[Fact]] = {}
    for fact in facts:
        by_kind.setdefault(fact.kind.value, []).append(fact)

    patient = next(iter(by_kind.get("patient", [])), None)
    who = patient.details if patient and isinstance(patient.details, PatientDetails) else None
    header = _table("Patient", "reference", "name", "gender", "born", "deceased", "source")
    header.add_row(
        record.patient_ref or "(unknown)",
        str(who.name or "") if who else "(no Patient resource)",
        str(who.gender or "") if who else "",
        _day(who.birth_date) if who else "",
        str(who.deceased or "") if who else "",
        record.source,
    )
    console.print(header.table)

    conditions = sorted(by_kind.get("condition", []), key=lambda f: f.date or "", reverse=True)
    table = _table("Problems", "condition", "status", "onset", "ended", "cancer / stage", "side")
    for fact in conditions[:_MAX_ROWS]:
        diagnosis = fact.details if isinstance(fact.details, ConditionDetails) else ConditionDetails()
        cancer = diagnosis.cancer or ""
        stage = diagnosis.stage or ""
        table.add_row(
            fact.label,
            " / ".join(s for s in (fact.status, fact.verification_status) if s),
            _day(fact.date),
            _day(fact.end_date),
            f"{cancer} {stage}".strip(),
            fact.laterality or "",
        )
    _emit(console, table, len(conditions))

    oncology = [
        f
        for kind in ("staging", "tumor_marker", "genomic", "performance_status")
        for f in by_kind.get(kind, [])
    ]
    table = _table("Cancer staging & biomarkers", "kind", "what", "value", "date", "flag")
    for fact in oncology[:_MAX_ROWS]:
        short = fact.details.short if isinstance(fact.details, StagingDetails) else None
        value = f"{short} ({_value(fact)})" if short and short != fact.value else _value(fact)
        table.add_row(fact.kind.value, fact.label, value, _day(fact.date), _flag(fact))
    _emit(console, table, len(oncology))

    for kind, title in (("lab", "Latest labs"), ("vital", "Latest vitals")):
        latest = _latest_by_code(by_kind.get(kind, []))
        table = _table(title, "test", "value", "range", "flag", "date")
        for fact in latest[:_MAX_ROWS]:
            table.add_row(fact.label, _value(fact), _range(fact), _flag(fact), _day(fact.date))
        _emit(console, table, len(latest))

    medications = sorted(by_kind.get("medication", []), key=lambda f: f.date or "", reverse=True)
    table = _table("Medications", "medication", "status", "from", "to", "type")
    for fact in medications[:_MAX_ROWS]:
        table.add_row(
            fact.label,
            fact.status or "",
            _day(fact.date),
            _day(fact.end_date),
            _medication_source(fact).removeprefix("Medication"),
        )
    _emit(console, table, len(medications))

    procedures = sorted(by_kind.get("procedure", []), key=lambda f: f.date or "", reverse=True)
    table = _table("Procedures", "procedure", "date", "site", "surgery", "radiotherapy")
    for fact in procedures[:_MAX_ROWS]:
        table.add_row(
            fact.label,
            _day(fact.date),
            " ".join(s for s in (fact.laterality, fact.body_site) if s),
            "yes" if isinstance(fact.details, ProcedureDetails) and fact.details.surgery else "",
            "yes" if isinstance(fact.details, ProcedureDetails) and fact.details.radiotherapy else "",
        )
    _emit(console, table, len(procedures))

    studies = sorted(by_kind.get("imaging_study", []), key=lambda f: f.date or "", reverse=True)
    table = _table("Imaging", "study", "date", "modalities", "body site", "series")
    for fact in studies[:_MAX_ROWS]:
        study = fact.details if isinstance(fact.details, ImagingStudyDetails) else ImagingStudyDetails()
        table.add_row(
            fact.label,
            _day(fact.date),
            ", ".join(study.modalities),
            fact.body_site or "",
            str(len(study.series)),
        )
    _emit(console, table, len(studies))

    documents = sorted(
        by_kind.get("report", []) + by_kind.get("document", []), key=lambda f: f.date or "", reverse=True
    )
    table = _table("Reports & documents", "title", "kind", "date", "text")
    for fact in documents[:_MAX_ROWS]:
        text = (fact.text or "").replace("\n", " ")
        text = text[:120] + ("…" if len(text) > 120 else "")
        table.add_row(fact.label, fact.kind.value, _day(fact.date), text)
    _emit(console, table, len(documents))

    if record.warnings or record.skipped:
        table = _table("Warnings & skipped entries", "where", "problem")
        for warning in record.warnings:
            table.add_row("warning", warning)
        for skipped in record.skipped:
            table.add_row(skipped.location, skipped.problem)
        console.print(table.table)
    console.print(
        f"{len(record.resources)} resources, {len(facts)} facts, "
        f"{len(record.dangling)} dangling references, {len(record.skipped)} skipped"
    )
