"""Renderings of a `CaseSummary` (JSON is the contract; Markdown and HTML are for people)."""
