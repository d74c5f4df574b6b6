"""Renderings of a `CaseSummary` (JSON is the contract; Markdown and HTML are for people).

`write_case_outputs(summary, case, folder)` writes all three for one case (`outputs.py`).
"""

from medboard.report.outputs import CASE_FILES, write_case_outputs

__all__ = ["CASE_FILES", "write_case_outputs"]
