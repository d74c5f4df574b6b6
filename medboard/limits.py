"""Resource caps: every input is bounded before medboard allocates for it.

A hostile or broken input (a gzip bomb, a header that declares 30000³ voxels, JSON nested 100k
deep, `/dev/zero` given as a file) must end in one clean line, in seconds, without exhausting
memory. Each cap has a name, a default sized for real clinical data with a wide margin, and an
environment variable that changes it (``MEDBOARD_MAX_<NAME>``). Errors name the cap and the
variable, so the user knows exactly what was refused and how to allow more:

    bundle.json: JSON nested deeper than max_json_depth=64 (MEDBOARD_MAX_JSON_DEPTH)

Checks happen *before* allocating: header-declared sizes are multiplied out and compared to the
cap, streams are read in chunks and stopped at the cap, decompression is streamed and stopped.

Use `limits()` for the process-wide values (environment read once, then cached; tests call
`limits.cache_clear()` after changing the environment) and `LimitExceededError` to refuse.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, fields

from medboard.errors import MedboardInputError

ENV_PREFIX = "MEDBOARD_"

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class Limits:
    """The caps, with their defaults. Field name == the name used in errors and the env variable."""

    #: Bytes read from any one input file (FHIR JSON/NDJSON, case YAML, summary, cassette, RECIST).
    max_file_bytes: int = 512 * MiB
    #: Bytes of a case YAML or a config file (they are small by nature).
    max_case_file_bytes: int = 1 * MiB
    #: Nesting depth of JSON/YAML containers (real FHIR R4 stays below ~20).
    max_json_depth: int = 64
    #: Characters of one JSON number literal (FHIR decimals carry at most ~18 significant digits).
    max_number_chars: int = 40
    #: Characters of one JSON string (base64 attachments included).
    max_string_chars: int = 64 * MiB
    #: Resources in one record (bundle entries, NDJSON lines, files of a folder together).
    max_entries: int = 200_000
    #: Bytes one image / volume / frame may occupy once decoded or decompressed.
    max_image_bytes: int = 2 * GiB
    #: Pixels of one 2-D picture as declared by its header (width × height).
    max_pixels: int = 150_000_000
    #: Slices of one image series / volume as declared by its header.
    max_slices: int = 10_000
    #: Bytes of one model answer (a longer body is refused as a bad response, not parsed).
    max_answer_bytes: int = 4 * MiB
    #: Bytes of one FHIR server response (a search page, a resource, `/metadata`); the whole pull
    #: is bounded by max_file_bytes and max_entries, as a bundle file is.
    max_response_bytes: int = 64 * MiB
    #: Longer side / shorter side of one image frame (a 140000 × 1 "image" letterboxes to 140000²).
    max_aspect_ratio: int = 50
    #: Distinct non-zero labels of one mask (a segmentation has a few; an image used as a mask, thousands).
    max_mask_labels: int = 1_000
    #: Characters of one JSON string that is not a base64 payload (names, codes, narrative, notes;
    #: real records stay below ~10k). Attachment/Binary ``data`` is capped by max_string_chars.
    max_text_chars: int = 1 * MiB

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Limits:
        """Defaults overridden by ``MEDBOARD_MAX_*`` variables; a bad value is a clean input error."""
        env = dict(os.environ) if env is None else env
        values: dict[str, int] = {}
        for field in fields(cls):
            var = env_var(field.name)
            raw = env.get(var)
            if raw is None or not raw.strip():
                continue
            try:
                value = int(raw.strip().replace("_", ""))
            except ValueError:
                raise MedboardInputError(f"{var} must be a positive integer", source="environment") from None
            if value <= 0:
                raise MedboardInputError(f"{var} must be a positive integer", source="environment")
            values[field.name] = value
        return cls(**values)


def env_var(name: str) -> str:
    """The environment variable that sets cap `name` (``max_json_depth`` → ``MEDBOARD_MAX_JSON_DEPTH``)."""
    return ENV_PREFIX + name.upper()


@functools.lru_cache(maxsize=1)
def limits() -> Limits:
    """The process-wide caps (environment read once)."""
    return Limits.from_env()


class LimitExceededError(MedboardInputError):
    """An input goes over one of the `Limits`; the message names the cap and how to raise it."""

    def __init__(
        self,
        what: str,
        cap: str,
        value: int | None = None,
        *,
        source: str | None = None,
        location: str | None = None,
    ) -> None:
        self.cap = cap
        self.cap_value = getattr(limits(), cap) if value is None else value
        problem = f"{what}: over the {cap}={self.cap_value} cap (set {env_var(cap)} to allow more)"
        super().__init__(problem, source=source, location=location)
