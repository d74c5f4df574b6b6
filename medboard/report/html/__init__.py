"""The visual case report: one self-contained, offline, print-friendly HTML file per case.

`render_report(summary, case, images_dir=None)` lays the summary out as `summary.md` does, and adds
what Markdown cannot hold: each statement's verdict as a labelled badge, every citation a link to
the cited FHIR resource (readable JSON) or image frame (with its boxes) in an Evidence part, key
images with box overlays, trend plots of tumour markers and key labs, and the treatment timeline
as a graphic (`render.py`; the data `figures.py`, the drawings `plots.py`, the frames `images.py`,
the evidence `evidence.py`). It needs no script and loads nothing; record text stays text.
"""

from medboard.report.html.render import CSP, render_report

__all__ = ["CSP", "render_report"]
