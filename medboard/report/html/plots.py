"""Trend plots and the treatment timeline as inline SVG (matplotlib's object API, no pyplot).

Figures are drawn on matplotlib's SVG canvas directly: pyplot is never imported and the process's
backend is never switched (a notebook or service embedding medboard keeps its own), and no GUI or
display is needed.

Why SVG inline: the report is one file that opens offline and prints sharp, and needs no script.
`svg.fonttype: none` keeps text as text (small, selectable, searchable), and a fixed
`svg.hashsalt` per figure (with no date in the metadata) makes the same input give the same bytes.

Record text reaches the plots (an analyte's display, a regimen, a cancer's name). matplotlib
escapes text into SVG, and `checked_svg` does not take that on trust before the SVG is marked
safe: the document must parse as XML (so no record text became markup), hold only the elements
matplotlib draws, no event-handler attribute, and no reference other than to its own ids. Then it is
trimmed for inlining: the XML prolog and DOCTYPE, the namespace declarations (URLs the HTML parser
does not need), matplotlib's global ``<style>`` (the report's one stylesheet carries its rule,
scoped) and every id nothing refers to (each figure has ``figure_1``, ``axes_1``: duplicates).

matplotlib's state (rcParams) is process-global: figures are drawn under a lock.
"""

from __future__ import annotations

import io
import re
import threading
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from medboard.textsafety import neutralize_line

if TYPE_CHECKING:
    from medboard.report.html.figures import TimelineData, TrendPlot

_LOCK = threading.Lock()
_SVG_NS = "{http://www.w3.org/2000/svg}"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
#: The elements matplotlib's SVG backend writes for line plots, bars, markers and text.
_ALLOWED = frozenset(
    {"svg", "g", "defs", "path", "use", "clipPath", "rect", "text", "tspan", "style", "title", "desc"}
)
_URL = re.compile(r"url\(\s*([^)]*?)\s*\)")

_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "path.simplify": True,
}
_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}

COLOURS = {
    "line": "#1d4ed8",
    "band": "#16a34a",
    "case": "#6b7280",
    "death": "#111827",
    "bar": "#2563eb",
    "ongoing": "#0f766e",
    "open": "#9ca3af",
    "surgery": "#b91c1c",
    "radiotherapy": "#c2410c",
    "diagnosis": "#7c3aed",
    "marker": "#be185d",
}


class UnsafeSvgError(ValueError):
    """matplotlib wrote something the report will not inline (it is left out, with a note)."""


def checked_svg(svg: str) -> Markup:
    """The SVG, checked (see the module docstring) and trimmed for inlining; `UnsafeSvgError` if
    it holds anything but matplotlib's own drawing."""
    try:
        root = ET.fromstring(svg.encode("utf-8"))
    except ET.ParseError as error:
        raise UnsafeSvgError(f"not well-formed XML ({error})") from None
    ids: set[str] = set()
    for element in root.iter():
        tag = element.tag.removeprefix(_SVG_NS)
        if tag not in _ALLOWED or not element.tag.startswith(_SVG_NS):
            raise UnsafeSvgError(f"element {tag!r} is not one matplotlib draws")
        for name, value in element.attrib.items():
            local = name.rsplit("}", 1)[-1].lower()
            if local.startswith("on"):
                raise UnsafeSvgError(f"event attribute {local!r}")
            if local == "href" and not value.startswith("#"):
                raise UnsafeSvgError("a reference outside the figure")
            for target in _URL.findall(value):
                if not target.startswith("#"):
                    raise UnsafeSvgError("a url() outside the figure")
            if local == "id":
                ids.add(value)
        if tag == "style" and (element.text or "").strip() not in ("", _MPL_STYLE):
            raise UnsafeSvgError("a style sheet matplotlib does not write")
    start = svg.index("<svg")
    body = svg[start:]
    body = re.sub(r"\s*<defs>\s*<style[^>]*>[^<]*</style>\s*</defs>", "", body, count=1)
    body = body.replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "").replace(
        ' xmlns="http://www.w3.org/2000/svg"', ""
    )
    referenced = set(re.findall(r'href="#([^"]+)"', body)) | set(re.findall(r"url\(#([^)]+)\)", body))
    body = re.sub(r' id="([^"]*)"', lambda m: m.group(0) if m.group(1) in referenced else "", body)
    body = body.replace("<svg ", '<svg class="plot" role="img" ', 1)
    return Markup(body.strip())


_MPL_STYLE = "*{stroke-linejoin: round; stroke-linecap: butt}"


def _render(draw: Any, *, salt: str, size: tuple[float, float]) -> Markup:
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    settings: Any = {**_RC, "svg.hashsalt": f"medboard-{salt}"}  # rcParams keys are typed as literals
    with _LOCK, matplotlib.rc_context(settings):
        figure = Figure(figsize=size, layout="constrained")
        FigureCanvasSVG(figure)
        draw(figure)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata=_METADATA)
    return checked_svg(buffer.getvalue())


def _date_axis(axis: Any) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _span(days: list[date], pad_fraction: float = 0.04) -> tuple[date, date]:
    low, high = min(days), max(days)
    pad = max(timedelta(days=15), (high - low) * pad_fraction)
    return low - pad, high + pad


def _short(text: str, limit: int) -> str:
    """Record text for a plot: control and bidi characters made visible (as in the page), one
    line, cut at `limit`, and every ``$`` escaped (matplotlib reads ``$…$`` as math, and a broken
    formula would fail the whole figure)."""
    text = " ".join(neutralize_line(text).split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("$", r"\$")


def trend_svg(plot: TrendPlot, *, case_date: date | None, death: date | None, salt: str) -> Markup:
    """One series over time: its values, the censored ones hollow, the reference band, the case
    date (dashed) and the death (solid), when they fall near the series."""

    def draw(figure: Any) -> None:
        axis = figure.add_subplot()
        days = [p.day for p in plot.points] + [p.day for p in plot.censored]
        low, high = _span(days + [d for d in (case_date,) if d])
        if plot.band is not None:
            bottom, top = plot.band
            if bottom is not None and top is not None:
                axis.axhspan(bottom, top, color=COLOURS["band"], alpha=0.12, lw=0, label="reference range")
            for edge in (bottom, top):
                if edge is not None:
                    axis.axhline(edge, color=COLOURS["band"], lw=0.8, ls=":")
        axis.plot(
            [p.day for p in plot.points],
            [p.value for p in plot.points],
            marker="o",
            ms=3.5,
            lw=1.2,
            color=COLOURS["line"],
        )
        if plot.censored:
            axis.plot(
                [p.day for p in plot.censored],
                [p.value for p in plot.censored],
                ls="none",
                marker="o",
                ms=4,
                mfc="white",
                color=COLOURS["line"],
            )
        if case_date is not None and low <= case_date <= high:
            axis.axvline(case_date, color=COLOURS["case"], lw=1, ls="--")
            axis.annotate(
                "case date",
                (case_date, 1),
                xycoords=("data", "axes fraction"),
                fontsize=7,
                ha="right",
                va="top",
                rotation=90,
                color=COLOURS["case"],
            )
        if death is not None and low <= death <= high:
            axis.axvline(death, color=COLOURS["death"], lw=1)
        axis.set_xlim(low, high)
        axis.set_title(_short(plot.title, 60), loc="left")
        axis.set_ylabel(_short(plot.unit or "", 24))
        axis.grid(axis="y", lw=0.4, alpha=0.5)
        _date_axis(axis)

    return _render(draw, salt=salt, size=(3.6, 2.3))


def timeline_svg(data: TimelineData, *, salt: str) -> Markup:
    """Rows per cancer (see `figures.timeline_data`): bars for lines and radiotherapy courses,
    markers for diagnosis, surgery and single-day radiotherapy, a sparkline per marker; the death
    as a solid vertical line, the case date dashed."""

    def draw(figure: Any) -> None:
        axis = figure.add_subplot()
        rows = len(data.rows)
        low, high = _span(data.days())
        for bar in data.bars:
            end = bar.end or (data.case_date if bar.state == "ongoing" and data.case_date else None)
            colour = COLOURS[
                "ongoing" if bar.state == "ongoing" else "open" if bar.state == "open" else "bar"
            ]
            if end is None or end <= bar.start:
                axis.plot([bar.start], [bar.row], marker="|", ms=10, mew=2.5, color=colour)
            else:
                axis.barh(bar.row, end - bar.start, left=bar.start, height=0.55, color=colour, alpha=0.85)
                if bar.state == "ongoing":
                    axis.plot([end], [bar.row], marker=">", ms=6, color=colour)
            axis.annotate(
                _short(bar.label, 48),
                (bar.start, bar.row - 0.33),
                fontsize=7,
                va="bottom",
                ha="left",
                color="#111827",
                annotation_clip=False,
            )
        symbols = {"diagnosis": "D", "surgery": "^", "radiotherapy": "*"}
        for mark in data.marks:
            axis.plot(
                [mark.day], [mark.row], marker=symbols[mark.kind], ms=7, ls="none", color=COLOURS[mark.kind]
            )
            axis.annotate(
                _short(mark.label, 40),
                (mark.day, mark.row),
                xytext=(7, 0),
                textcoords="offset points",
                fontsize=7,
                va="center",
                ha="left",
                color="#111827",
                annotation_clip=False,
            )
        for spark in data.sparks:
            values = [v for _, v in spark.points]
            lo, hi = min(values), max(values)
            scale = (hi - lo) or 1.0
            ys = [spark.row + 0.3 - 0.6 * (v - lo) / scale for v in values]  # rows grow downwards
            axis.plot([d for d, _ in spark.points], ys, marker="o", ms=2.5, lw=1, color=COLOURS["marker"])
        if data.case_date is not None:
            axis.axvline(data.case_date, color=COLOURS["case"], lw=1, ls="--")
            axis.annotate(
                "case date",
                (data.case_date, 0.0),
                xycoords=("data", "axes fraction"),
                xytext=(-3, 3),
                textcoords="offset points",
                rotation=90,
                fontsize=7,
                ha="right",
                va="bottom",
                color=COLOURS["case"],
                annotation_clip=False,
            )
        if data.death is not None:
            axis.axvline(data.death, color=COLOURS["death"], lw=1.5)
            axis.annotate(
                f"died {data.death.isoformat()}",
                (data.death, 1.0),
                xycoords=("data", "axes fraction"),
                fontsize=7,
                ha="right",
                va="bottom",
                color=COLOURS["death"],
                annotation_clip=False,
            )
        for header in data.headers:
            if header:
                axis.axhline(header - 0.5, color="#d1d5db", lw=0.8)
        axis.set_yticks(range(rows), [_short(r, 38) for r in data.rows])
        for index, label in enumerate(axis.get_yticklabels()):
            if index in data.headers:
                label.set_fontweight("bold")
        axis.set_ylim(rows - 0.4, -0.7)
        axis.set_xlim(low, high)
        axis.grid(axis="x", lw=0.4, alpha=0.5)
        axis.tick_params(axis="y", length=0)
        _date_axis(axis)

    return _render(draw, salt=salt, size=(7.6, 0.9 + 0.3 * len(data.rows)))
