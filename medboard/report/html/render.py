"""`render_report`: the case summary as one self-contained HTML file (jinja2, autoescape on).

Layout: the summary's own sections in its order (headline, answer, one block per cancer with its
marker plots, the treatment timeline after the cancers, key labs with their trend plots,
medications, history, imaging with its key images, data quality, discrepancies and open
questions, the appendix folded), then the struck statements, the run, and the Evidence part every
citation links to.

Safety: every value from the summary, the record or a model is data. The environment escapes every
``{{ … }}`` (``autoescape=True``) and its ``finalize`` first turns control and bidi characters
into visible escapes (`medboard.textsafety.neutralize`). The template marks nothing safe; the
only `Markup` it receives is medboard's own: SVG from `plots.checked_svg` (checked, see there).
Pictures are ``data:`` URIs built from pixels. The page loads nothing (no URL anywhere), runs no
script, and says so twice: a Content-Security-Policy meta (``default-src 'none'``) stands behind
the escaping in case it ever fails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from medboard.models import CaseSummary, EvidenceRef, Section, Statement
from medboard.report.html.evidence import anchor, build_entries, cited_references, short_label
from medboard.textsafety import neutralize, redact_url

if TYPE_CHECKING:
    from medboard.agents.case import CaseInput
    from medboard.models.picture import ClinicalPicture
    from medboard.report.html.figures import TrendPlot
    from medboard.tools.fhir.record import PatientRecord
    from medboard.tools.longitudinal.trends import TrendReport

log = logging.getLogger(__name__)

#: The Content-Security-Policy of every report: nothing loads, nothing runs, inline CSS only.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_SYMBOLS = {"supported": "✓", "unsupported": "✗", "contradicted": "✗✗", "unverifiable": "?"}


@dataclass
class Cite:
    href: str
    label: str
    title: str


@dataclass
class Badge:
    label: str
    symbol: str
    reason: str = ""


@dataclass
class StatementView:
    id: str
    text: str
    badge: Badge
    cites: list[Cite]
    cells: list[str] | None = None


@dataclass
class Figure:
    """A plot (`svg`, medboard's checked SVG) with its caption and, for trends, its values."""

    caption: str
    svg: Markup | None
    values: list[tuple[str, str, str]] = field(default_factory=list)  # day, value, flag
    problem: str | None = None


@dataclass
class KeyImage:
    uri: str | None
    caption: str
    cite: Cite
    findings: list[tuple[str, str]] = field(default_factory=list)  # number, text


@dataclass
class DiscrepancyView:
    kind: str
    severity: str
    description: str
    cites: list[Cite]


@dataclass
class StruckView:
    section: str
    text: str
    reason: str
    cites: list[Cite]


@dataclass
class Block:
    """One part of the report body: a summary section, or the timeline/trends medboard adds."""

    anchor: str
    kind: str
    title: str
    status: str = "ok"
    error: str | None = None
    columns: list[str] | None = None
    rows: list[StatementView] = field(default_factory=list)
    bullets: list[StatementView] = field(default_factory=list)
    open_questions: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    figures_anchor: str | None = None
    figures_title: str | None = None
    key_images: list[KeyImage] = field(default_factory=list)
    discrepancies: list[DiscrepancyView] = field(default_factory=list)
    folded: bool = False


def _finalize(value: object) -> object:
    """Applied to every ``{{ … }}`` before autoescape: control and bidi characters made visible."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        return neutralize(value)
    return value


_ENV: Any = None


def _environment() -> Any:
    global _ENV
    if _ENV is None:
        from jinja2 import Environment, FileSystemLoader, StrictUndefined

        _ENV = Environment(
            loader=FileSystemLoader(Path(__file__).parent),
            autoescape=True,
            finalize=_finalize,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
    return _ENV


def _badge(statement: Statement) -> Badge:
    if statement.verdict is None:
        return Badge("unchecked", "·", "The verifier did not check this statement.")
    label = statement.verdict.verdict.value
    return Badge(label, _SYMBOLS[label], statement.verdict.reason)


def _cites(evidence: list[EvidenceRef]) -> list[Cite]:
    out: dict[str, Cite] = {}
    for ref in evidence:
        if ref.reference in out:
            continue
        title = ref.reference + (f" — {ref.quote}" if ref.quote else "")
        out[ref.reference] = Cite(
            href="#" + anchor(ref.reference), label=short_label(ref.reference), title=title
        )
    return list(out.values())


def _statement(statement: Statement) -> StatementView:
    return StatementView(
        id=statement.id,
        text=statement.text,
        badge=_badge(statement),
        cites=_cites(statement.evidence),
        cells=list(statement.cells) if statement.cells is not None else None,
    )


def _block(index: int, section: Section) -> Block:
    width = len(section.columns or [])
    is_row = [st.cells is not None and len(st.cells) == width and width > 0 for st in section.statements]
    return Block(
        anchor=f"sec-{index}-{section.kind}",
        kind=section.kind,
        title=section.title,
        status=section.status,
        error=section.error,
        columns=list(section.columns) if section.columns and any(is_row) else None,
        rows=[_statement(st) for st, row in zip(section.statements, is_row, strict=True) if row],
        bullets=[_statement(st) for st, row in zip(section.statements, is_row, strict=True) if not row],
        open_questions=list(section.open_questions),
        folded=section.kind == "appendix",
    )


def _fmt(value: float) -> str:
    from medboard.tools.longitudinal.trends import fmt

    return fmt(value, 4)


def _trend_figure(plot: TrendPlot, picture: ClinicalPicture, salt: str) -> Figure:
    from medboard.report.html.figures import day_of
    from medboard.report.html.plots import UnsafeSvgError, trend_svg

    unit = f" {plot.unit}" if plot.unit else ""
    caption = (
        f"{plot.title}{f' ({plot.unit})' if plot.unit else ''}{f', LOINC {plot.code}' if plot.code else ''}"
    )
    caption += f": {len(plot.points)} value(s)" + (
        f", {len(plot.censored)} censored" if plot.censored else ""
    )
    if plot.band is not None:
        low, high = plot.band
        caption += (
            f"; reference range {'' if low is None else _fmt(low)}–{'' if high is None else _fmt(high)}{unit}"
        )
    values = sorted(
        [(p.day.isoformat(), f"{p.censored or ''}{_fmt(p.value)}{unit}", p.status or "") for p in plot.points]
        + [(p.day.isoformat(), f"{p.censored}{_fmt(p.value)}{unit}", "censored") for p in plot.censored]
    )
    try:
        svg = trend_svg(
            plot,
            case_date=day_of(picture.case_date),
            death=day_of(picture.patient.deceased_date),
            salt=salt,
        )
    except UnsafeSvgError as error:
        log.warning("report: a trend plot was left out (%s)", error)
        return Figure(caption=caption, svg=None, values=values, problem="plot left out: " + str(error))
    return Figure(caption=caption, svg=svg, values=values)


def _key_images(summary: CaseSummary, frames: Any) -> list[KeyImage]:
    numbered = {f.id: n for n, f in enumerate(summary.findings, start=1)}
    out = []
    for series, frame in frames.boxed_frames():
        ref = f"image:{series}#frame={frame}"
        texts = [
            (str(numbered[f.id]), f.text)
            for f in summary.findings
            if any(e.series == series and e.frame == frame and e.box is not None for e in f.evidence)
        ]
        uri = frames.uri(series, frame)
        out.append(
            KeyImage(
                uri=uri,
                caption=f"{series}, frame {frame}"
                + ("" if uri else f" — not shown: {frames.problem(series, frame) or 'not available'}"),
                cite=Cite(href="#" + anchor(ref), label=short_label(ref), title=ref),
                findings=texts,
            )
        )
    return out


def _run_view(summary: CaseSummary) -> dict[str, Any]:
    run = summary.run
    model = None
    if run.model is not None:
        model = {
            "name": run.model.name,
            "endpoint": redact_url(run.model.endpoint) if run.model.endpoint else "",
        }
    return {
        "version": run.medboard_version,
        "schema": run.schema_version,
        "started": run.started_at.isoformat(timespec="seconds"),
        "finished": run.finished_at.isoformat(timespec="seconds") if run.finished_at else "",
        "seconds": (run.finished_at - run.started_at).total_seconds() if run.finished_at else None,
        "model": model,
        "agents": run.agents,
        "warnings": run.warnings,
        "tokens": sum(a.prompt_tokens + a.completion_tokens for a in run.agents),
        "calls": sum(a.model_calls for a in run.agents),
    }


def render_report(summary: CaseSummary, case: CaseInput, *, images_dir: Path | None = None) -> str:
    """The complete, self-contained HTML document of one case's summary.

    `case` is the case the summary was made from (its record supplies the cited resources and the
    clinical picture for the plots; its images the frames). `images_dir` is the run's ``images/``
    folder of overlay PNGs, reused when present; frames without one are drawn from the case images.
    """
    from medboard.report.html.figures import key_lab_plots, marker_plots, picture_trend_report
    from medboard.report.html.images import FrameImages
    from medboard.tools.reconcile import picture_of

    record = case.record
    picture = picture_of(record, case_date=case.effective_date)
    trends = picture_trend_report(picture, record)
    frames = FrameImages(summary=summary, case=case, images_dir=images_dir)
    cancers = {c.condition: c for c in picture.cancers}

    lab_figures = [_trend_figure(p, picture, f"lab-{n}") for n, p in enumerate(key_lab_plots(trends, record))]
    timeline = _timeline_block(picture, record, trends)
    last_cancer = max((i for i, s in enumerate(summary.sections) if s.kind == "cancer"), default=None)
    has_open_questions = any(s.kind == "discrepancies_and_open_questions" for s in summary.sections)
    blocks: list[Block] = []
    for index, section in enumerate(summary.sections):
        if section.kind == "appendix" and summary.discrepancies and not has_open_questions:
            blocks.append(_discrepancy_block(summary))  # before the appendix, as in summary.md
            has_open_questions = True
        block = _block(index, section)
        if section.kind == "cancer" and section.subject in cancers:
            plots = marker_plots(cancers[section.subject], trends, record)
            block.figures = [_trend_figure(p, picture, f"marker-{index}-{n}") for n, p in enumerate(plots)]
            block.figures_title = "Tumour markers" if block.figures else None
        elif section.kind == "key_labs":
            block.figures, lab_figures = lab_figures, []
            block.figures_anchor, block.figures_title = "trends", "Trends"
        elif section.kind == "imaging":
            block.key_images = _key_images(summary, frames)
        elif section.kind == "discrepancies_and_open_questions":
            block.discrepancies = _discrepancies(summary)
        blocks.append(block)
        if timeline is not None and index == last_cancer:
            blocks.append(timeline)
            timeline = None
    if timeline is not None:  # no cancer section: after the headline and the answer
        at = next((i for i, b in enumerate(blocks) if b.kind not in ("headline", "answer")), len(blocks))
        blocks.insert(at, timeline)
    if summary.discrepancies and not has_open_questions:
        blocks.append(_discrepancy_block(summary))
    if lab_figures:  # no key-labs section to hold them
        blocks.append(
            Block(
                anchor="trends-part",
                kind="trends",
                title="Trends",
                figures=lab_figures,
                figures_anchor="trends",
            )
        )

    struck = [
        StruckView(
            section=s.section, text=s.statement.text, reason=s.reason, cites=_cites(s.statement.evidence)
        )
        for s in summary.struck
    ]
    evidence = build_entries(cited_references(summary), record.resources, frames)
    template = _environment().get_template("report.html.j2")
    return str(
        template.render(
            s=summary,
            csp=CSP,
            case_date=picture.case_date or "",
            blocks=blocks,
            struck=struck,
            run=_run_view(summary),
            evidence=evidence,
        )
    )


def _discrepancies(summary: CaseSummary) -> list[DiscrepancyView]:
    return [
        DiscrepancyView(kind=d.kind, severity=d.severity, description=d.description, cites=_cites(d.sources))
        for d in summary.discrepancies
    ]


def _discrepancy_block(summary: CaseSummary) -> Block:
    return Block(
        anchor="discrepancies",
        kind="discrepancies_and_open_questions",
        title="Discrepancies",
        discrepancies=_discrepancies(summary),
    )


def _timeline_block(picture: ClinicalPicture, record: PatientRecord, trends: TrendReport) -> Block | None:
    from medboard.report.html.figures import timeline_data
    from medboard.report.html.plots import UnsafeSvgError, timeline_svg

    data = timeline_data(picture, record, trends)
    if data.empty:
        return None
    caption = (
        "Lines of therapy (bars; ongoing to the case date ▸), diagnosis ◆, surgery ▲, radiotherapy ★, "
        "tumour-marker course (sparkline, scaled per marker)"
        + ("; the patient's death (solid line)" if data.death else "")
        + "; the case date (dashed line)."
    )
    try:
        svg = timeline_svg(data, salt="timeline")
    except UnsafeSvgError as error:
        log.warning("report: the timeline was left out (%s)", error)
        return Block(
            anchor="timeline",
            kind="timeline",
            title="Treatment timeline",
            figures=[Figure(caption=caption, svg=None, problem=f"plot left out: {error}")],
        )
    figure = Figure(caption=caption, svg=svg, values=[("", note, "") for note in data.notes])
    return Block(anchor="timeline", kind="timeline", title="Treatment timeline", figures=[figure])
