"""Example cases shipped with medboard (the embedded default of `medboard run`)."""

from pathlib import Path

EXAMPLES = Path(__file__).parent
DEFAULT_CASE = EXAMPLES / "jenny-m" / "case.yaml"
