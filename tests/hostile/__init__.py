"""The hostile-input corpus of issue 15: every input the issue lists, and more of each family.

Each entry is a *builder*: a function that writes one hostile input into a temporary folder,
from the repository's real data (the mCODE "Jenny M" bundle, tests/data/imaging, pydicom's CT),
and returns an `Invocation`: the real CLI command to run and what correct behaviour is (allowed
exit codes, secrets that must never be printed or written, a pattern that must be reported when
the input is accepted with a warning, extra checks). Bombs are small on disk (compressed zeros,
see `bombs`); header lies carry no data.

Families (module): json-depth, json-number, json-duplicate-keys, attachment, impossible-data,
identifier-leak, control-characters, size (fhir_inputs); case-yaml-* (case_inputs); nrrd, nifti,
png, dicom (image_inputs); out, signals (output_inputs); model-fault, leak (model_inputs);
verify-gate, verify-input, devices, recist (verify_inputs).

`runner.run_item` runs one item under an address-space cap and a timeout, snapshots every file
around it, and `runner.judge` lists what went wrong in words. tests/test_hostile_cli.py runs the
whole corpus; benchmarks/bench_hostile.py measures the bombs.
"""

from . import case_inputs, fhir_inputs, image_inputs, model_inputs, output_inputs, verify_inputs
from .corpus import CORPUS, Invocation, Item

__all__ = [
    "CORPUS",
    "Invocation",
    "Item",
    "case_inputs",
    "fhir_inputs",
    "image_inputs",
    "model_inputs",
    "output_inputs",
    "verify_inputs",
]
