"""One pydantic ValidationError -> one user line: the shared helper in medboard.errors."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from medboard.errors import CaseInputError, first_problem, validation_input_error


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: str
    count: int = 0

    @field_validator("date")
    @classmethod
    def _iso(cls, value: str) -> str:
        if len(value) != 10:
            raise ValueError("date must be YYYY-MM-DD")
        return value


def error_for(data: dict[str, object]) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        Spec.model_validate(data)
    return info.value


def test_first_problem_drops_pydantic_prefix_and_counts_the_rest() -> None:
    problem = first_problem(error_for({"date": "SSN-123-45-6789", "count": "x", "extra": 1}))
    assert problem.loc == ("date",) and problem.kind == "value_error"
    assert problem.message == "date must be YYYY-MM-DD"
    assert problem.input == "SSN-123-45-6789" and problem.others == 2
    assert problem.and_more() == " (and 2 more)"
    assert problem.and_more("problem") == " (and 2 more problems)"
    assert first_problem(error_for({"date": "2020-01-01", "count": "x"})).and_more("problem") == ""


def test_validation_input_error_is_one_line_naming_source_and_location() -> None:
    error = error_for({"date": "2020", "count": "x"})
    plain = validation_input_error(error, source="case.yaml")
    assert str(plain) == "case.yaml: date must be YYYY-MM-DD"
    located = validation_input_error(
        error,
        source="case.yaml",
        location=lambda loc: "/".join(map(str, loc)),
        prefix="not a Spec: ",
        count_more=True,
        error_type=CaseInputError,
    )
    assert isinstance(located, CaseInputError) and located.exit_code == 2
    assert str(located) == "case.yaml: date: not a Spec: date must be YYYY-MM-DD (and 1 more)"
    assert "2020" not in str(located)  # the value is never quoted
