"""RECIST 1.1 response assessment: pure functions over pydantic lesion sets, arithmetic shown.

Eisenhauer et al., "New response evaluation criteria in solid tumours: revised RECIST guideline
(version 1.1)", Eur J Cancer 2009;45:228–247. What is implemented:

* **Baseline selection is validated**: at most 5 target lesions, at most 2 per organ; a target must
  be measurable (non-nodal longest diameter ≥ 10 mm, lymph node short axis ≥ 15 mm).
* **Sum of diameters**: longest diameter of non-nodal targets plus the *short axis* of nodal targets
  (``diameter_mm`` holds the short axis for lymph nodes). An absent target counts 0 mm.
* **Target response** per follow-up, against the baseline sum and the nadir (smallest sum of any
  earlier evaluable time point, baseline included):
  CR — every non-nodal target absent and every nodal target < 10 mm short axis;
  PD — sum ≥ 1.2 × nadir **and** sum − nadir ≥ 5 mm (with a nadir of 0, the 5 mm rule alone);
  PR — sum ≤ 0.7 × baseline; SD otherwise; NE when a target was not measured, unless the measured
  ones alone already meet PD.
* **Non-target response**: PD on unequivocal progression; CR when all are absent (nodes < 10 mm);
  NE when one was not assessed; otherwise non-CR/non-PD.
* **Overall response** (RECIST 1.1 tables 1 and 2): a new lesion or any PD → PD; CR needs target CR
  and non-target CR; target CR with non-target non-CR/non-PD or NE → PR; target PR → PR; target SD →
  SD; target NE → NE. Without target lesions, non-CR/non-PD is reported as ``SD`` with the reason.

Confirmation of response and best overall response across visits are left to the caller.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from medboard.models import EvidenceRef, image_ref
from medboard.tools.longitudinal.trends import fmt, signed

Response = Literal["CR", "PR", "SD", "PD", "NE"]
NonTargetResponse = Literal["CR", "non-CR/non-PD", "PD", "NE"]

MAX_TARGETS = 5
MAX_TARGETS_PER_ORGAN = 2
MIN_TARGET_MM = 10.0
MIN_TARGET_NODE_SHORT_AXIS_MM = 15.0
NORMAL_NODE_SHORT_AXIS_MM = 10.0
PR_DECREASE = 0.30
PD_INCREASE = 0.20
PD_ABSOLUTE_MM = 5.0
# Thresholds are compared with a tolerance so that exactly 30 % / 20 % / 5 mm meet them despite
# binary floating point (0.7 * 70 is 48.99999999999999).
EPS = 1e-9


class RecistError(ValueError):
    """A lesion set that breaks RECIST 1.1's rules; ``location`` names the time point and lesion."""

    def __init__(self, problem: str, location: str) -> None:
        self.problem = problem
        self.location = location
        super().__init__(f"{location}: {problem}")


class Lesion(BaseModel):
    """One lesion at one time point. For lymph nodes ``diameter_mm`` is the short axis."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    organ: str = Field(min_length=1)
    kind: Literal["target", "non-target"]
    lymph_node: bool = False
    diameter_mm: float | None = Field(default=None, ge=0, le=1000)
    status: Literal["present", "absent", "unequivocal-progression"] = "present"
    evidence: list[EvidenceRef] = Field(default_factory=list)

    def measured_mm(self) -> float | None:
        """The lesion's contribution to the sum: 0 when absent, None when not measured."""
        if self.status == "absent":
            return 0.0
        return self.diameter_mm


class TimePoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: str = Field(description="YYYY-MM-DD")
    new_lesions: bool = False
    lesions: list[Lesion] = Field(default_factory=list)
    evidence: list[EvidenceRef] = Field(default_factory=list)

    @field_validator("date")
    @classmethod
    def _iso_day(cls, value: str) -> str:
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError(f"date {value!r} is not YYYY-MM-DD") from None

    @model_validator(mode="after")
    def _unique_ids(self) -> TimePoint:
        duplicated = [i for i, n in Counter(lesion.id for lesion in self.lesions).items() if n > 1]
        if duplicated:
            raise ValueError(f"lesion id {duplicated[0]!r} appears twice")
        return self


class TimePointResult(BaseModel):
    """The assessment of one time point (the first is the baseline: no response)."""

    model_config = ConfigDict(extra="forbid")

    date: str
    sum_diameters_mm: float | None
    change_from_baseline_mm: float | None = None
    change_from_baseline_percent: float | None = None
    nadir_mm: float | None = Field(
        default=None, description="Smallest earlier evaluable sum (incl. baseline)."
    )
    change_from_nadir_mm: float | None = None
    change_from_nadir_percent: float | None = None
    target_response: Response | None = None
    non_target_response: NonTargetResponse | None = None
    response: Response | None = Field(default=None, description="Overall response; None at baseline.")
    reason: str
    evidence: list[EvidenceRef] = Field(default_factory=list)


class RecistAssessment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timepoints: list[TimePointResult]

    @property
    def follow_ups(self) -> list[TimePointResult]:
        return self.timepoints[1:]


class MaskMeasurementLike(Protocol):
    """What `lesion_from_mask` reads of `medboard.tools.imaging.measure.MaskMeasurement`."""

    voxels: int
    max_inplane_diameter_mm: float
    diameter_frame: int | None


def lesion_from_mask(
    measurement: MaskMeasurementLike,
    *,
    lesion_id: str,
    organ: str,
    series: str,
    kind: Literal["target", "non-target"] = "target",
) -> Lesion:
    """A lesion from the imaging reader's mask measurement, citing the frame it was measured on.

    The mask gives the longest in-plane diameter, which is RECIST's measure for non-nodal lesions;
    a lymph node needs its short axis, which a mask's longest diameter is not, so it is refused.
    An empty mask means the lesion was not found: ``absent``.
    """
    if "lymph" in organ.lower():
        raise RecistError(
            "a lymph node is measured by its short axis; a mask's longest diameter cannot stand in for it",
            f"lesion {lesion_id}",
        )
    if measurement.voxels == 0 or measurement.diameter_frame is None:
        return Lesion(id=lesion_id, organ=organ, kind=kind, diameter_mm=0.0, status="absent")
    return Lesion(
        id=lesion_id,
        organ=organ,
        kind=kind,
        diameter_mm=measurement.max_inplane_diameter_mm,
        evidence=[
            EvidenceRef(
                reference=image_ref(series, measurement.diameter_frame),
                quote=f"longest in-plane diameter {fmt(measurement.max_inplane_diameter_mm)} mm",
            )
        ],
    )


def validate_baseline(baseline: TimePoint) -> None:
    """RECIST 1.1 target selection rules at baseline; raises `RecistError` naming the lesion."""
    where = f"timepoint 0 ({baseline.date}, baseline)"
    targets = [lesion for lesion in baseline.lesions if lesion.kind == "target"]
    if len(targets) > MAX_TARGETS:
        raise RecistError(f"{len(targets)} target lesions; RECIST 1.1 allows at most {MAX_TARGETS}", where)
    per_organ = Counter(lesion.organ.strip().lower() for lesion in targets)
    for organ, count in per_organ.items():
        if count > MAX_TARGETS_PER_ORGAN:
            raise RecistError(
                f"{count} target lesions in organ {organ!r}; at most {MAX_TARGETS_PER_ORGAN} per organ", where
            )
    for lesion in targets:
        at = f"{where}, lesion {lesion.id}"
        if lesion.status != "present" or lesion.diameter_mm is None:
            raise RecistError("a baseline target lesion must be present and measured", at)
        minimum = MIN_TARGET_NODE_SHORT_AXIS_MM if lesion.lymph_node else MIN_TARGET_MM
        if lesion.diameter_mm < minimum:
            what = "lymph node short axis" if lesion.lymph_node else "longest diameter"
            raise RecistError(
                f"{what} {fmt(lesion.diameter_mm)} mm is below the {fmt(minimum)} mm "
                "needed for a target lesion",
                at,
            )


def _check_follow_up(index: int, point: TimePoint, baseline: TimePoint) -> None:
    """Follow-up lesions must be those selected at baseline, with the same role."""
    roles = {lesion.id: lesion.kind for lesion in baseline.lesions}
    for lesion in point.lesions:
        at = f"timepoint {index} ({point.date}), lesion {lesion.id}"
        if lesion.id not in roles:
            raise RecistError(
                "not recorded at baseline; lesions that appear later are new lesions (set new_lesions)", at
            )
        if roles[lesion.id] != lesion.kind:
            raise RecistError(f"was {roles[lesion.id]} at baseline, now {lesion.kind}", at)


def _lesion_text(lesion: Lesion) -> str:
    measured = lesion.measured_mm()
    value = "not measured" if measured is None else f"{fmt(measured)} mm"
    axis = " short axis" if lesion.lymph_node and lesion.status != "absent" else ""
    status = " (absent)" if lesion.status == "absent" else ""
    return f"{lesion.id} {value}{axis}{status}"


def _non_target_response(point: TimePoint, baseline: TimePoint) -> tuple[NonTargetResponse | None, str]:
    baseline_ids = [lesion.id for lesion in baseline.lesions if lesion.kind == "non-target"]
    if not baseline_ids:
        return None, ""
    current = {lesion.id: lesion for lesion in point.lesions if lesion.kind == "non-target"}
    progressed = [i for i, lesion in current.items() if lesion.status == "unequivocal-progression"]
    if progressed:
        return "PD", f"unequivocal progression of non-target {', '.join(progressed)}"
    missing = [i for i in baseline_ids if i not in current]
    if missing:
        return "NE", f"non-target {', '.join(missing)} not assessed"

    def gone(lesion: Lesion) -> bool:
        if lesion.status == "absent":
            return True
        return (
            lesion.lymph_node
            and lesion.diameter_mm is not None
            and lesion.diameter_mm < NORMAL_NODE_SHORT_AXIS_MM
        )

    if all(gone(lesion) for lesion in current.values()):
        return "CR", "all non-target lesions gone (nodes < 10 mm)"
    return "non-CR/non-PD", "non-target lesions persist without unequivocal progression"


def assess(timepoints: list[TimePoint]) -> RecistAssessment:
    """Assess every time point against the first (the baseline). Raises `RecistError` on bad sets."""
    if not timepoints:
        raise RecistError("no time points", "timepoints")
    baseline = timepoints[0]
    validate_baseline(baseline)
    for index, point in enumerate(timepoints[1:], start=1):
        if point.date <= timepoints[index - 1].date:
            raise RecistError(
                f"date is not after the previous time point's ({timepoints[index - 1].date}); "
                "time points must be in chronological order, baseline first",
                f"timepoint {index} ({point.date})",
            )
        _check_follow_up(index, point, baseline)
    target_ids = [lesion.id for lesion in baseline.lesions if lesion.kind == "target"]
    baseline_sum = sum(lesion.diameter_mm or 0.0 for lesion in baseline.lesions if lesion.kind == "target")

    results: list[TimePointResult] = []
    evaluable_sums: list[tuple[str, float]] = []  # (date, sum) of evaluable time points, for the nadir
    for index, point in enumerate(timepoints):
        targets = {lesion.id: lesion for lesion in point.lesions if lesion.kind == "target"}
        evidence = [ref for lesion in point.lesions for ref in lesion.evidence] + list(point.evidence)
        terms = [_lesion_text(targets[i]) if i in targets else f"{i} not assessed" for i in target_ids]
        measured = [targets[i].measured_mm() for i in target_ids if i in targets]
        complete = len(measured) == len(target_ids) and all(m is not None for m in measured)
        partial_sum = sum(m for m in measured if m is not None)
        total = partial_sum if complete and target_ids else None
        sum_text = f"sum {' + '.join(terms)} = {fmt(partial_sum)} mm" if target_ids else "no target lesions"

        if index == 0:
            evaluable_sums.append((point.date, baseline_sum))
            results.append(
                TimePointResult(
                    date=point.date,
                    sum_diameters_mm=baseline_sum if target_ids else None,
                    reason=f"Baseline: {sum_text}." if target_ids else "Baseline: no target lesions.",
                    evidence=evidence,
                )
            )
            continue

        nadir_date, nadir = min(evaluable_sums, key=lambda s: s[1])
        result = TimePointResult(
            date=point.date,
            sum_diameters_mm=total,
            nadir_mm=nadir if target_ids else None,
            reason="",
            evidence=evidence,
        )
        reasons: list[str] = []
        target_response: Response | None = None
        if target_ids:
            observed = total if total is not None else partial_sum
            if total is not None:
                result.change_from_baseline_mm = total - baseline_sum
                result.change_from_baseline_percent = (
                    (total - baseline_sum) / baseline_sum * 100 if baseline_sum else None
                )
            increase = observed - nadir
            meets_pd = increase >= PD_ABSOLUTE_MM - EPS and (
                nadir == 0 or increase >= PD_INCREASE * nadir - EPS
            )
            if total is not None or meets_pd:
                result.change_from_nadir_mm = increase
                result.change_from_nadir_percent = increase / nadir * 100 if nadir else None
            reasons.append(f"Target {sum_text}" + ("" if complete else " (incomplete)") + ".")
            if total is not None:
                pct = result.change_from_baseline_percent
                reasons.append(
                    f"Versus baseline {fmt(baseline_sum)} mm: {signed(total - baseline_sum)} mm"
                    + (f" ({signed(pct)} %)" if pct is not None else "")
                    + "."
                )
            nadir_pct = (
                f" ({signed(increase / nadir * 100)} %)" if nadir else " (nadir 0 mm: 5 mm rule alone)"
            )
            reasons.append(f"Versus nadir {fmt(nadir)} mm ({nadir_date}): {signed(increase)} mm{nadir_pct}.")
            nodes_ok = all(
                (targets[i].status == "absent")
                or (targets[i].lymph_node and (targets[i].diameter_mm or 0) < NORMAL_NODE_SHORT_AXIS_MM)
                for i in target_ids
                if i in targets
            )
            if meets_pd:
                target_response = "PD"
                reasons.append(
                    f"Target PD: increase {fmt(increase)} mm ≥ {fmt(PD_ABSOLUTE_MM)} mm and "
                    f"≥ {fmt(PD_INCREASE * 100)} % of the nadir"
                    + ("" if complete else " even before the unmeasured lesions")
                    + "."
                )
            elif not complete:
                target_response = "NE"
                missing = [i for i in target_ids if i not in targets or targets[i].measured_mm() is None]
                reasons.append(f"Target NE: {', '.join(missing)} not measured.")
            elif nodes_ok:
                target_response = "CR"
                reasons.append("Target CR: every non-nodal target gone and every nodal target < 10 mm.")
            elif total is not None and total <= (1 - PR_DECREASE) * baseline_sum + EPS:
                target_response = "PR"
                reasons.append(
                    f"Target PR: {fmt(total)} mm ≤ 70 % of baseline "
                    f"({fmt((1 - PR_DECREASE) * baseline_sum)} mm)."
                )
            else:
                target_response = "SD"
                reasons.append("Target SD: neither ≥ 30 % below baseline nor ≥ 20 % and ≥ 5 mm above nadir.")
            if target_response != "NE" and total is not None:
                evaluable_sums.append((point.date, total))

        non_target, non_target_reason = _non_target_response(point, baseline)
        if non_target_reason:
            reasons.append(f"Non-target {non_target}: {non_target_reason}.")
        result.target_response = target_response
        result.non_target_response = non_target
        result.response, overall_reason = _overall(target_response, non_target, point.new_lesions)
        reasons.append(overall_reason)
        result.reason = " ".join(reasons)
        results.append(result)
    return RecistAssessment(timepoints=results)


def _overall(
    target: Response | None, non_target: NonTargetResponse | None, new_lesions: bool
) -> tuple[Response, str]:
    """RECIST 1.1 table 1 (with targets) and table 2 (non-targets only)."""
    if new_lesions:
        return "PD", "Overall PD: new lesion(s)."
    if target == "PD" or non_target == "PD":
        return "PD", "Overall PD."
    if target is None:
        if non_target is None:
            return "NE", "Overall NE: no target or non-target lesions recorded."
        if non_target == "CR":
            return "CR", "Overall CR: all non-target lesions gone."
        if non_target == "NE":
            return "NE", "Overall NE: non-target lesions not assessed."
        return "SD", "Overall non-CR/non-PD (no target lesions), reported as SD."
    if target == "NE":
        return "NE", "Overall NE: target lesions not all measured."
    if target == "CR":
        if non_target in (None, "CR"):
            return "CR", "Overall CR."
        return "PR", f"Overall PR: target CR with non-target {non_target}."
    return target, f"Overall {target}."
