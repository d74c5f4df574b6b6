"""The longitudinal comparer's deterministic tools: what changed, with numbers it can prove.

* `trends` — per-LOINC series with unit normalisation (`medboard.tools.units`), change, direction,
  nadir, peak, reference-range crossings; bad values skipped with reasons (`plausibility`, `dates`).
  `picture_trends` does the same arithmetic over the clinical picture's series (one per comparable
  unit, implausible values out) — what the longitudinal agent reads; `compute_trends` over raw
  facts is what `medboard trends` prints.
* `kinetics` — PSA doubling time and velocity (CEA, CA-125 likewise) over a treatment window.
* `recist` — RECIST 1.1 response per time point, arithmetic shown.
* `timeline` — lines of therapy, cancer surgery and radiotherapy; a marker's course over a line
  (`marker_course`). The clinical picture (`medboard.tools.reconcile`) rebuilds lines per cancer
  with this module.

The longitudinal agent (`medboard.agents.longitudinal`) turns these into cited findings.

Submodules import numpy / pint lazily, so importing this package stays cheap.
"""

from medboard.tools.longitudinal.kinetics import MarkerKinetics, marker_kinetics
from medboard.tools.longitudinal.recist import Lesion, RecistAssessment, RecistError, TimePoint, assess
from medboard.tools.longitudinal.timeline import Timeline, build_timeline, last_treatment_change
from medboard.tools.longitudinal.trends import AnalyteTrend, TrendReport, compute_trends

__all__ = [
    "AnalyteTrend",
    "Lesion",
    "MarkerKinetics",
    "RecistAssessment",
    "RecistError",
    "TimePoint",
    "Timeline",
    "TrendReport",
    "assess",
    "build_timeline",
    "compute_trends",
    "last_treatment_change",
    "marker_kinetics",
]
