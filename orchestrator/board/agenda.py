"""A tumor board's agenda: a YAML file naming the board, its date and its cases.

```yaml
board: Thoracic tumor board          # the board's name
date: 2024-05-02                     # the meeting's date (FHIR date)
cases:
  - id: jenny-m                      # the case's folder in the packet: letters, digits, . _ -
    bundle: jenny-m/case.yaml        # a bundle file, a case folder or a case YAML (relative to this file)
    question: Is she a candidate for breast-conserving surgery?
    case_date: 2019-04-03            # optional: the case's "now"
    images:                          # optional: as in a case YAML (path, mask, recipe, date, ...)
      - path: ct/
  - id: darin
    fhir_server: https://fhir.example.org/R4   # or pull the record from a FHIR server
    patient: 1234
    model: http://gpu-2:8000/v1     # optional: this case's model endpoint (default: --model)
    model_name: google/medgemma-4b-it
```

Paths are resolved against the agenda's folder (symlinks followed) and, like a case YAML's,
refused when they leave it unless the caller allows external paths: a shared agenda cannot make
medboard read a home folder. The file is read like a case YAML (bounded, nesting checked, no YAML
aliases, dates kept as written; `medboard.orchestrator.case.read_yaml_mapping`) and validated by
pydantic models that forbid unknown keys. Every problem is one `CaseInputError` (exit 2) that names
the agenda file, the key and its line: a missing file, an unknown or repeated key, a duplicate
case id, no cases, both or neither of ``bundle`` / ``fhir_server``, an id that is no folder name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from medboard.errors import CaseInputError, first_problem
from medboard.orchestrator.board.jobs import CaseJob
from medboard.orchestrator.case import (
    ImageSpec,
    _case_path,
    _CaseLoader,
    _yaml_location,
    check_iso_date,
    read_yaml_mapping,
    read_yaml_text,
)
from medboard.safeio import reject_nul
from medboard.textsafety import neutralize_line

#: A case id becomes a folder name in the packet: portable, no path separators, not hidden.
CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: Names Windows reserves (a packet copied there must still open).
_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{n}" for n in range(1, 10)),
    *(f"lpt{n}" for n in range(1, 10)),
}


def check_case_id(value: str) -> str:
    """`value` if it can be a folder name on every system; else a ValueError saying what is allowed."""
    if not CASE_ID.match(value) or value.split(".")[0].lower() in _RESERVED or value.endswith("."):
        raise ValueError(
            "not usable as a folder name: use 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    return value


class AgendaCase(BaseModel):
    """One case on the agenda, as written (paths still relative to the agenda file)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="The case's id: its folder in the packet (letters, digits, . _ -).")
    bundle: str | None = Field(
        default=None, description="A bundle file, case folder or case YAML, relative to the agenda."
    )
    fhir_server: str | None = Field(default=None, description="A FHIR server's base URL (with `patient`).")
    patient: str | None = Field(
        default=None, description="The patient id: on the FHIR server, or one of several in a bundle."
    )
    images: list[ImageSpec] = Field(default_factory=list, description="Images, as in a case YAML.")
    question: str | None = Field(default=None, description="The board's question for this case.")
    case_date: str | None = Field(default=None, description="The case's 'now' (FHIR date).")
    model: str | None = Field(
        default=None, description="This case's model endpoint URL, 'local' or 'none' (default: --model)."
    )
    model_name: str | None = Field(
        default=None, description="The model served there (default: --model-name)."
    )

    @field_validator("id")
    @classmethod
    def _folder_name(cls, value: str) -> str:
        return check_case_id(value)

    @field_validator("case_date")
    @classmethod
    def _iso_case_date(cls, value: str | None) -> str | None:
        return check_iso_date(value)

    @field_validator("fhir_server")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")  # not quoted: a URL may carry a password
        return value

    @field_validator("model")
    @classmethod
    def _model_spec(cls, value: str | None) -> str | None:
        if (
            value is not None
            and value not in ("none", "local")
            and not value.startswith(("http://", "https://"))
        ):
            raise ValueError("must be an http(s) URL, 'local' or 'none'")
        return value


class AgendaSpec(BaseModel):
    """The agenda file as written."""

    model_config = ConfigDict(extra="forbid")

    board: str = Field(description="The board's name.")
    date: str = Field(description="The meeting's date (FHIR date).")
    cases: list[AgendaCase] = Field(description="The cases, in the order the board takes them.")

    @field_validator("board")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the board needs a name")
        return value.strip()

    @field_validator("date")
    @classmethod
    def _iso_date(cls, value: str) -> str:
        checked = check_iso_date(value)
        assert checked is not None
        return checked


@dataclass
class Agenda:
    """A checked agenda: every case a `CaseJob` with absolute paths (model settings still unset)."""

    board: str
    date: str
    source: Path
    cases: list[CaseJob] = field(default_factory=list)

    def inputs(self) -> list[Path]:
        """The files and folders the board reads (for `--out` checks): the agenda and its cases'."""
        found = [self.source]
        for job in self.cases:
            if job.bundle is not None:
                found.append(job.bundle)
            for image in job.images:
                found.append(Path(image.path))
                if image.mask:
                    found.append(Path(image.mask))
        return found


def load_agenda(path: str | Path, *, allow_external_paths: bool = False) -> Agenda:
    """Read and check the agenda at `path`; every problem a `CaseInputError` naming file, key and line."""
    source = Path(reject_nul(path, error=CaseInputError))
    if not source.exists():
        raise CaseInputError("no such agenda file", source=str(source))
    if not source.is_file():
        raise CaseInputError("an agenda is a YAML file, not a folder", source=str(source))
    text = read_yaml_text(source)
    data = read_yaml_mapping(
        source, "an agenda must be a mapping with `board:`, `date:` and `cases:`", text=text
    )
    lines = key_lines(text, source)
    where = _Locator(source, lines)
    if "cases" in data and not data["cases"]:
        raise where.error(("cases",), "the agenda has no cases (list at least one under `cases:`)")
    try:
        spec = AgendaSpec.model_validate(data)
    except ValidationError as error:
        problem = first_problem(error)
        loc = tuple(problem.loc)
        if problem.kind == "extra_forbidden":
            raise where.error(loc, "unknown key") from None
        if problem.kind == "missing":
            raise where.error(loc, "missing (required)") from None
        raise where.error(loc, problem.message) from None
    base = source.parent.resolve()
    seen: dict[str, int] = {}
    jobs = []
    for index, case in enumerate(spec.cases):
        folded = case.id.casefold()  # one folder on a case-insensitive filesystem
        if folded in seen:
            first = lines.get(("cases", seen[folded], "id"))
            also = f" (also the id of cases[{seen[folded]}]{f', line {first}' if first else ''})"
            raise where.error(("cases", index, "id"), f"duplicate case id {case.id!r}{also}")
        seen[folded] = index
        jobs.append(_job(case, index, base, where, allow_external_paths))
    return Agenda(board=spec.board, date=spec.date, source=source.resolve(), cases=jobs)


def _job(case: AgendaCase, index: int, base: Path, where: _Locator, allow_external: bool) -> CaseJob:
    at = ("cases", index)
    if (case.bundle is None) == (case.fhir_server is None):
        both = "both" if case.bundle is not None else "neither"
        raise where.error(at, f"a case names exactly one of `bundle` or `fhir_server` (this one {both})")
    if case.fhir_server is not None and not case.patient:
        raise where.error((*at, "fhir_server"), "a case with `fhir_server` needs `patient`")

    def resolve(value: str, loc: tuple[str | int, ...], what: str) -> Path:
        location = where.location(loc)
        resolved = _case_path(
            base, value, where.source, location, what, allow_external, folder="the agenda's folder"
        )
        if not resolved.exists():
            raise where.error(loc, f"{what} {neutralize_line(value)!r} does not exist")
        return resolved

    bundle = resolve(case.bundle, (*at, "bundle"), "bundle") if case.bundle is not None else None
    images = []
    for n, image in enumerate(case.images):
        resolved = resolve(image.path, (*at, "images", n, "path"), "image path")
        mask = resolve(image.mask, (*at, "images", n, "mask"), "mask path") if image.mask else None
        images.append(image.model_copy(update={"path": str(resolved), "mask": str(mask) if mask else None}))
    return CaseJob(
        id=case.id,
        bundle=bundle,
        fhir_server=case.fhir_server,
        patient=case.patient,
        images=images,
        question=case.question,
        case_date=case.case_date,
        model=case.model,
        model_name=case.model_name,
        allow_external_paths=allow_external,
    )


@dataclass
class _Locator:
    """Turns a key path into ``cases[2].bundle (line 14)`` and errors naming the agenda file."""

    source: Path
    lines: dict[tuple[str | int, ...], int]

    def line(self, loc: tuple[str | int, ...]) -> int | None:
        for depth in range(len(loc), -1, -1):  # the key itself, else its nearest enclosing entry
            found = self.lines.get(tuple(loc[:depth]))
            if found is not None:
                return found
        return None

    def location(self, loc: tuple[str | int, ...]) -> str:
        key = _yaml_location(loc) or "(top level)"
        line = self.line(loc)
        return f"{key} (line {line})" if line is not None else key

    def error(self, loc: tuple[str | int, ...], problem: str) -> CaseInputError:
        return CaseInputError(problem, source=str(self.source), location=self.location(loc))


def key_lines(text: str, source: Path) -> dict[tuple[str | int, ...], int]:
    """The 1-based line of every key and list item, by its path (``("cases", 2, "bundle")``).

    Built from the composed node tree (the text was already checked for depth and aliases); a key
    written twice in one mapping is refused here (PyYAML would silently keep the last).
    """
    root = yaml.compose(text, Loader=_CaseLoader)
    lines: dict[tuple[str | int, ...], int] = {(): 1}
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), root)] if root is not None else []
    while stack:
        path, node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                child = (*path, key)
                if key in seen:
                    location = f"{_yaml_location(child) or key} (line {key_node.start_mark.line + 1})"
                    raise CaseInputError("key written twice", source=str(source), location=location)
                seen.add(key)
                lines[child] = key_node.start_mark.line + 1
                stack.append((child, value_node))
        elif isinstance(node, yaml.SequenceNode):
            for n, item in enumerate(node.value):
                lines[(*path, n)] = item.start_mark.line + 1
                stack.append(((*path, n), item))
    return lines
