"""`medboard reconcile PATH`: the reconciled clinical picture (`medboard.tools.reconcile.build_picture`).

Rich tables by default — patient, cancers (stages, biomarkers, lines, markers), medications with
their status at the case date, lab series, discrepancies and data quality — every cell of record
text inert (`medboard.cli.terminal.cell`). ``--json`` prints `ClinicalPicture` as JSON: the contract
``{"case_date", "patient", "cancers", "medications", "labs", "discrepancies", "data_quality"}``,
whose every ``sources`` / ``source`` is a ``Type/id`` reference (see `medboard.models.picture`).

The command renders whatever `build_picture` returns; it computes nothing itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from medboard.cli import fhir_source

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from medboard.models.picture import Cancer, ClinicalPicture

#: Rows shown per table; the rest is counted in the caption (``--json`` has everything).
MAX_ROWS = 40


def register(app: typer.Typer) -> None:
    @app.command("reconcile")
    def reconcile_command(
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
        case_date: str = typer.Option(
            None,
            "--case-date",
            help="YYYY-MM-DD: the case's 'now' (default: the latest date in the record).",
        ),
        json_out: bool = typer.Option(False, "--json", help="Print the picture as JSON."),
    ) -> None:
        """The reconciled picture: vital status, cancers, medications, labs, conflicts, data quality."""
        from medboard.cli.options import parse_case_date
        from medboard.tools.reconcile import build_picture

        day = parse_case_date(case_date)
        record = fhir_source.load_source_record(
            path,
            ctx=ctx,
            patient=patient,
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
        picture = build_picture(record, case_date=day)
        if json_out:
            from medboard.cli.terminal import inert_json

            text = json.dumps(picture.model_dump(mode="json"), indent=2, ensure_ascii=False)
            typer.echo(inert_json(text))
        else:
            print_picture(picture)


def _table(title: str, *columns: str) -> Table:
    """A table whose title may hold record text (a cancer's name): inert, like its cells."""
    from rich.table import Table

    from medboard.cli.terminal import cell

    table = Table(title=cell(title), title_justify="left", expand=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _add(table: Table, *cells: object) -> None:
    """A row of record text: every cell inert (never markup, never a terminal escape)."""
    from medboard.cli.terminal import cell

    table.add_row(*(cell("" if c is None else c) for c in cells))


def _refs(references: list[str], limit: int = 3) -> str:
    shown = ", ".join(references[:limit])
    return shown + (f" (+{len(references) - limit})" if len(references) > limit else "")


def _show(console: Console, table: Table, total: int, empty: str) -> None:
    from medboard.cli.terminal import cell

    if not total:
        console.print(cell(f"{table.title}: {empty}"))  # Text → its plain string
        return
    if total > MAX_ROWS:
        table.caption = f"{total - MAX_ROWS} more not shown (use --json for all)"
    console.print(table)


def print_picture(picture: ClinicalPicture, console: Console | None = None) -> None:
    """Every part of the picture as rich tables."""
    from rich.console import Console

    from medboard.cli.terminal import cell

    console = console or Console()
    who = picture.patient
    table = _table("Patient", "reference", "case date", "deceased", "date of death", "cause of death")
    _add(
        table,
        who.reference or "(unknown)",
        picture.case_date or "(no date in the record)",
        "yes" if who.deceased else "no",
        who.deceased_date,
        who.cause_of_death,
    )
    console.print(table)

    table = _table("Cancers", "condition", "name", "kind", "side", "status", "onset")
    for cancer in picture.cancers[:MAX_ROWS]:
        _add(
            table,
            cancer.condition,
            cancer.name,
            cancer.kind,
            cancer.laterality,
            cancer.clinical_status,
            cancer.onset,
        )
    _show(console, table, len(picture.cancers), "none found")

    for cancer in picture.cancers:
        _print_cancer_details(console, cancer)

    table = _table("Medications", "ingredient", "status", "last evidence", "why", "sources")
    for med in picture.medications[:MAX_ROWS]:
        _add(table, med.ingredient, med.status, med.last_evidence_date, med.reason, _refs(med.sources))
    _show(console, table, len(picture.medications), "none found")

    table = _table("Lab series", "analyte", "code", "unit", "values", "first", "latest")
    for series in picture.labs[:MAX_ROWS]:
        first, last = (series.points[0], series.points[-1]) if series.points else (None, None)
        _add(
            table,
            series.name,
            series.code,
            series.unit,
            str(len(series.points)),
            f"{first.value:g} on {first.date[:10]}" if first else "",
            f"{last.value:g} on {last.date[:10]}" if last else "",
        )
    _show(console, table, len(picture.labs), "none found")

    table = _table("Discrepancies", "kind", "severity", "description", "sources")
    for item in picture.discrepancies[:MAX_ROWS]:
        refs = [s.reference for s in item.sources]
        _add(table, item.kind, item.severity, item.description, _refs(refs))
    _show(console, table, len(picture.discrepancies), "none found")

    table = _table("Data quality", "kind", "description", "sources")
    for dq in picture.data_quality[:MAX_ROWS]:
        _add(table, dq.kind, dq.description, _refs(dq.sources))
    _show(console, table, len(picture.data_quality), "none found")
    console.print(
        cell(
            f"{len(picture.cancers)} cancers, {len(picture.medications)} medications, "
            f"{len(picture.labs)} lab series, {len(picture.discrepancies)} discrepancies, "
            f"{len(picture.data_quality)} data-quality items"
        )
    )


def _print_cancer_details(console: Console, cancer: Cancer) -> None:
    """Stages, biomarkers, lines and markers of one cancer, each a table when it has rows."""
    if cancer.stages:
        table = _table(f"Stages — {cancer.name}", "type", "group", "date", "sources")
        for stage in cancer.stages[:MAX_ROWS]:
            _add(table, stage.type, stage.group, stage.date, _refs(stage.sources))
        _show(console, table, len(cancer.stages), "none")
    if cancer.biomarkers:
        table = _table(f"Biomarkers — {cancer.name}", "biomarker", "code", "results", "conflict")
        for marker in cancer.biomarkers[:MAX_ROWS]:
            results = "; ".join(
                f"{r.value}{' ' + r.unit if r.unit else ''} ({r.date or 'undated'}, {r.source})"
                for r in marker.results[:5]
            )
            _add(table, marker.name, marker.code, results, "CONFLICT" if marker.conflict else "")
        _show(console, table, len(cancer.biomarkers), "none")
    if cancer.lines:
        table = _table(f"Lines of therapy — {cancer.name}", "drugs", "start", "end", "status", "sources")
        for therapy in cancer.lines[:MAX_ROWS]:
            _add(
                table,
                ", ".join(therapy.drugs),
                therapy.start,
                therapy.end,
                therapy.status,
                _refs(therapy.sources),
            )
        _show(console, table, len(cancer.lines), "none")
    if cancer.markers:
        table = _table(f"Tumour markers — {cancer.name}", "marker", "code", "values", "latest")
        for tm in cancer.markers[:MAX_ROWS]:
            latest = tm.results[-1] if tm.results else None
            shown = (
                f"{latest.value}{' ' + latest.unit if latest.unit else ''} ({latest.date or 'undated'})"
                if latest
                else ""
            )
            _add(table, tm.name, tm.code, str(len(tm.results)), shown)
        _show(console, table, len(cancer.markers), "none")
