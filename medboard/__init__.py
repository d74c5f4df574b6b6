"""medboard: cross-checked, cited case summaries from FHIR records and medical images.

Importing this package stays light (no autogen, openai or torch): the CLI starts fast and the
vocabulary can be used by tools that never talk to a model.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("medboard")
except PackageNotFoundError:  # pragma: no cover - source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
