"""Scenario regression tests: pin what a clinical AI pipeline tells clinicians about a case.

A scenario file (`scenario_*.yaml`, format in `spec.py`, documented in docs/scenarios.md) names a
case, the model it runs against (none, a cassette replayed strictly, or a live endpoint), the
specialists, and expectations a tumour-board member would check: facts that must or must not
appear, what the headline names, the discrepancies that must be found, medication and line
status, verdict limits, budgets, an optional snapshot.

- `spec.py`: the format (pydantic; errors name the file, the key and the line) and its JSON Schema;
- `runner.py`: runs a scenario's case once through the real pipeline (record/replay/live);
- `checks.py`, `concepts.py`, `snapshot.py`: each expectation type against a run;
- `report.py`: readable failure reports and JSON;
- `plugin.py`: the pytest plugin (entry point `pytest11`): one item per expectation;
- `medboard scenarios run|schema` (medboard/cli/scenarios.py): the same outside pytest.
"""
