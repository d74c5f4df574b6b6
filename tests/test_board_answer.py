"""The board question on the shared real records: premises checked against the timeline (false
ones said plainly, true ones without a false alarm), the facts its own concepts name, and — with a
model — the same layout from a model's draft."""

from __future__ import annotations

import pytest
from board_story_support import JENNY_QUESTION, board, case, needs_shared, verdict
from pydantic import ValidationError

from medboard.agents.synthesizer.board.answer import NO_MODEL, answer
from medboard.agents.synthesizer.board.model_text import (
    answer_from_model,
    answer_request,
    headline_from_model,
    headline_request,
    picture_digest,
)
from medboard.agents.synthesizer.board.premises import check_premises, question_concepts
from medboard.agents.synthesizer.gaps import missing_information
from medboard.models import Finding, SectionKind, VerdictLabel
from medboard.models.claims import LineClaim

pytestmark = needs_shared

FAILING = {VerdictLabel.unsupported, VerdictLabel.contradicted}


def _premises(
    name: str, question: str, findings: list[Finding] | None = None
) -> list[tuple[bool | None, str]]:
    b = board(name, question, findings)
    return [(p.holds, p.text) for p in check_premises(b)]


def test_embedded_case_says_surgery_preceded_systemic_therapy() -> None:
    """The defect: the no-model answer never said the partial excision (2018-04-01) came before the
    chemotherapy (2018-04-12), so the question's premise is false. It is now the first statement."""
    b = board("jenny", JENNY_QUESTION)
    (sec,) = answer(b)
    assert sec.kind == SectionKind.answer and sec.status == "degraded" and sec.error == NO_MODEL
    first = sec.statements[0]
    assert first.text == (
        'Premise "after neoadjuvant therapy" does not hold: surgery first: Excision of part of '
        "breast on 2018-04-01, before the first therapy (cyclophosphamide + doxorubicin + paclitaxel) "
        "started 2018-04-12."
    )
    _, _, found = case("jenny")
    cited = [f for f in found if f.id in first.finding_ids]
    assert any(f.text.startswith("Surgery on 2018-04-01") for f in cited)
    assert any(isinstance(f.claim, LineClaim) and f.claim.start == "2018-04-12" for f in cited)
    assert not b.used  # the answer restates; it takes nothing


def test_embedded_case_facts_are_the_questions_concepts_and_verified() -> None:
    """Surgery, radiotherapy and the lines (the question names surgery and therapy timing), not the
    receptors or the patient's weight; every fact statement supported, nothing failing."""
    (sec,) = answer(board("jenny", JENNY_QUESTION))
    texts = [s.text for s in sec.statements]
    assert "Surgery on 2018-04-01: Excision of part of breast (procedure)." in texts
    assert any(t.startswith("Radiotherapy course 2018-08-15 – 2018-10-25") for t in texts)
    assert (
        "Lines of therapy: line 1 cyclophosphamide + doxorubicin + paclitaxel 2018-04-12 – 2018-09-30; "
        "line 2 anastrozole since 2018-09-30 (current)." in texts
    )
    assert not any("Estrogen" in t or "weight" in t.lower() for t in texts)
    for statement in sec.statements:
        result = verdict("jenny", statement)
        assert result.verdict not in FAILING, (statement.text, result.reason)
        if not statement.text.startswith("Premise"):
            assert result.verdict == VerdictLabel.supported, (statement.text, result.reason)


@pytest.mark.parametrize(
    ("name", "question", "phrase"),
    [
        ("jenny", "Should she continue anastrozole?", "continue anastrozole"),
        (
            "jenny",
            "Is adjuvant endocrine therapy appropriate for her breast cancer?",
            "adjuvant endocrine therapy",
        ),
        ("jenny", "What is the next step for her current line of therapy?", "current line of therapy"),
        ("loyd_connelly", "What adjuvant options were there after prostatectomy?", "after prostatectomy"),
        ("loyd_connelly", "What should follow progression on docetaxel?", "on docetaxel"),
        (
            "austin_franecki",
            "Was surgery an option after chemotherapy for his lung cancer?",
            "after chemotherapy",
        ),
        ("adan_pulido", "How should his metastatic prostate cancer be followed?", "metastatic"),
        # a procedure the timeline does not count as cancer therapy is still found by its name
        ("darin_skiles", "Does he need surveillance colonoscopy after polypectomy?", "after polypectomy"),
        ("micah_schinner", "Was chemoradiation given after the colostomy?", "after the colostomy"),
    ],
)
def test_true_premises_raise_no_false_alarm(name: str, question: str, phrase: str) -> None:
    premises = _premises(name, question)
    assert premises, "the premise was checked"
    assert all(holds is True for holds, _ in premises), premises
    assert any(phrase in text or "distant disease" in text for _, text in premises)


def test_true_premise_sentences_cite_what_they_say() -> None:
    (sec,) = answer(board("loyd_connelly", "Which options were there after prostatectomy?"))
    first = sec.statements[0]
    assert first.text == 'Premise "after prostatectomy" holds: Prostatectomy on 2004-05-28.'
    assert verdict("loyd_connelly", first).verdict not in FAILING


def test_false_premises_are_said_plainly_without_restating_the_false_value() -> None:
    her2 = _premises("jenny", "Is trastuzumab indicated for her HER2-positive disease?")
    assert (False, "Premise on HER2 does not hold: HER2 Negative (2018-03-10).") in her2
    stage = _premises("jenny", "Given stage IV disease, what systemic therapy is next?")
    ((holds, text),) = stage
    assert holds is False and text.startswith(
        "Premise on distant disease does not hold: no metastasis is recorded"
    )
    assert "IV" not in text.split(":", 1)[1]  # the record's stages, never the question's
    stay = _premises("loyd_connelly", "Should he stay on leuprolide?")
    assert stay == [
        (False, 'Premise "stay on leuprolide" does not hold: leuprolide stale (last evidence 2004-05-28).')
    ]
    current = _premises("austin_franecki", "How did he tolerate his current line of therapy?")
    assert current == [
        (
            False,
            'Premise "current line of therapy" does not hold: therapy now: none; last line: cisplatin + '
            "paclitaxel (1985-07-26 – 1989-07-20); deceased 1989-07-25.",
        )
    ]
    before = _premises("jenny", "Is she a candidate for radiotherapy before surgery?")
    assert before == [
        (
            False,
            'Premise "before surgery" does not hold: Excision of part of breast on 2018-04-01.',
        )
    ]
    for question in (
        "Is trastuzumab indicated for her HER2-positive disease?",
        "Given stage IV disease, what next?",
    ):
        (sec,) = answer(board("jenny", question))
        for statement in sec.statements:
            assert verdict("jenny", statement).verdict not in FAILING, statement.text


def test_neoadjuvant_premise_holds_when_therapy_preceded_surgery() -> None:
    """The same record with line 1 starting before the excision: the premise holds, said with both dates."""
    _, _, found = case("jenny")
    moved = []
    for f in found:
        if isinstance(f.claim, LineClaim) and f.claim.start == "2018-04-12":
            f = f.model_copy(update={"claim": f.claim.model_copy(update={"start": "2018-03-20"})})
        moved.append(f)
    premises = _premises("jenny", JENNY_QUESTION, moved)
    assert premises == [
        (
            True,
            'Premise "after neoadjuvant therapy" holds: cyclophosphamide + doxorubicin + paclitaxel started '
            "2018-03-20, before surgery (Excision of part of breast) on 2018-04-01.",
        )
    ]


def test_question_concepts_read_by_vocabulary() -> None:
    b = board("jenny")
    concepts = question_concepts(
        "Is Arimidex still working, or should we switch to tamoxifen after ER+ relapse?", b
    )
    assert concepts.drugs == ["tamoxifen", "anastrozole"] or set(concepts.drugs) == {
        "tamoxifen",
        "anastrozole",
    }
    assert ("er", "positive", "ER+") in concepts.biomarkers
    assert not question_concepts("What is her prior history?", b).biomarkers  # "er"/"pr" inside words
    names = question_concepts("Next step after prostatectomy and radiotherapy?", b)
    assert names.surgery and names.radiotherapy


def test_named_biomarker_and_drug_facts_are_chosen() -> None:
    (sec,) = answer(board("jenny", "Should she continue anastrozole given her HER2 status?"))
    texts = [s.text for s in sec.statements]
    assert "HER2 [Interpretation] in Tissue: Negative on 2018-03-10." in texts
    assert "Current medication: anastrozole (last evidence 2018-09-30)." in texts
    (none,) = answer(board("jenny", "Should she start olaparib?"))
    assert "The record has no olaparib: the question names it." in none.open_questions


def test_no_question_or_a_model_answer_writes_nothing() -> None:
    assert answer(board("jenny")) == []
    b = board("jenny", JENNY_QUESTION)
    b.answered_by_model = True
    assert answer(b) == []


# ------------------------------------------------------------------------------- with a model


def test_model_answer_keeps_the_premise_checks_first_and_cites_only_real_findings() -> None:
    b = board("jenny", JENNY_QUESTION)
    request = answer_request(b)
    assert "PREMISE CHECKS:" in request.instruction and "surgery first" in request.instruction
    assert "CANCER Primary malignant neoplasm of female left breast" in request.instruction  # the picture
    surgery = next(fid for fid, f in request.findings.items() if f.text.startswith("Surgery on"))
    with pytest.raises(ValidationError):  # an id the case does not have cannot be cited
        request.schema.model_validate({"answer": "x", "supporting": [{"text": "x", "finding_ids": ["nope"]}]})
    draft = request.schema.model_validate(
        {
            "answer": "Surgery (2018-04-01) came before chemotherapy (2018-04-12).",
            "supporting": [{"text": "Excision of part of breast on 2018-04-01.", "finding_ids": [surgery]}],
            "not_in_record": ["No imaging after chemotherapy."],
        }
    )
    sec = answer_from_model(b, draft, request)
    assert sec.statements[0].text.startswith('Premise "after neoadjuvant therapy" does not hold')
    assert sec.statements[1].finding_ids == [surgery] and sec.statements[2].finding_ids == [surgery]
    # the model's own "not in the record" is unverified text: the open questions are computed
    assert "No imaging after chemotherapy." not in sec.open_questions
    assert sec.open_questions == missing_information(b.findings, b.picture)


def test_model_headline_is_refused_when_it_leaves_out_a_cancer_and_trimmed_to_budget() -> None:
    b = board("jenny")
    request = headline_request(b)
    assert "HEADLINE" in request.instruction and picture_digest(b) in request.instruction
    ids = {f.text.split(":", 1)[0]: fid for fid, f in request.findings.items()}
    patient, diagnosis = ids["Patient Jenny M"], ids["Cancer diagnosis"]
    line = next(fid for fid, f in request.findings.items() if isinstance(f.claim, LineClaim))
    partial = request.schema.model_validate(
        {"statements": [{"text": "Jenny M, 53, female.", "finding_ids": [patient]}]}
    )
    assert headline_from_model(b, partial, request) is None  # no cancer, no therapy: keep the template's
    long = " ".join(["word"] * 60)
    full = request.schema.model_validate(
        {
            "statements": [
                {"text": "Jenny M, 53-year-old female, alive.", "finding_ids": [patient]},
                {"text": "Left breast cancer, clinical stage IIB.", "finding_ids": [diagnosis]},
                {"text": "On anastrozole since 2018-09-30.", "finding_ids": [line]},
                {"text": long, "finding_ids": [patient]},
                {"text": long, "finding_ids": [patient]},
            ]
        }
    )
    sec = headline_from_model(b, full, request)
    assert sec is not None and sec.kind == SectionKind.headline
    assert sum(len(s.text.split()) for s in sec.statements) <= 100 and len(sec.statements) == 4


def test_asked_is_not_assumed_and_conflicting_stages_settle_nothing() -> None:
    """ "Is she HER2-positive?" asks; "... her HER2-positive disease" assumes. Jenny's stage groups
    disagree (IIB from the staging Observations, IIIC on the Condition): "stage III" cannot be
    settled either way, and the sentence lists both."""
    assert _premises("jenny", "Is she HER2-positive?") == []
    assert _premises("jenny", "Are there metastases?") == []
    (sec,) = answer(board("jenny", "Is she HER2-positive?"))
    assert "HER2 [Interpretation] in Tissue: Negative on 2018-03-10." in [s.text for s in sec.statements]
    ((holds, text),) = _premises("jenny", "Given her stage III disease, is surgery next?")
    assert holds is None and "clinical stage IIB" in text and "stage IIIC" in text


class _Caller:
    """A model caller that answers every structured request with a fixed payload (validated)."""

    def __init__(self, payload: dict[str, object]) -> None:
        self.payload, self.requests = payload, []

    async def structured(self, *, messages, schema, agent, purpose):  # type: ignore[no-untyped-def]
        from types import SimpleNamespace

        self.requests.append((messages, schema, agent, purpose))
        return SimpleNamespace(value=schema.model_validate(self.payload))


async def test_draft_answer_and_headline_go_through_one_structured_call_each() -> None:
    from medboard.agents.prompting import build_case_context
    from medboard.agents.synthesizer.board.model_text import draft_answer, draft_headline

    record, _, _ = case("jenny")
    b = board("jenny", JENNY_QUESTION)
    context = build_case_context(record, question=JENNY_QUESTION)
    surgery = next(fid for fid, f in answer_request(b).findings.items() if f.text.startswith("Surgery on"))
    caller = _Caller(
        {
            "answer": "Surgery came first.",
            "supporting": [{"text": "Excision on 2018-04-01.", "finding_ids": [surgery]}],
            "not_in_record": [],
        }
    )
    sec = await draft_answer(b, caller, context)
    ((messages, _, agent, purpose),) = caller.requests
    assert agent == "synthesizer" and purpose == "answer"
    assert messages[1].content.startswith(context)  # the shared, cacheable prefix comes first
    assert sec.statements[0].text.startswith("Premise") and sec.statements[1].text == "Surgery came first."
    patient = next(fid for fid, f in headline_request(b).findings.items() if f.text.startswith("Patient"))
    only_patient = _Caller({"statements": [{"text": "Jenny M, female.", "finding_ids": [patient]}]})
    assert await draft_headline(b, only_patient, context) is None  # no cancer: the template's stays


def test_a_marker_course_after_an_event_needs_a_value_after_it() -> None:
    """loyd_connelly's last PSA is from the day of the prostatectomy: a "PSA rise after
    prostatectomy" has no value after it to rest on. The PSA series and kinetics are the facts."""
    question = "Is the PSA rise after prostatectomy a biochemical recurrence?"
    premises = _premises("loyd_connelly", question)
    assert (True, 'Premise "after prostatectomy" holds: Prostatectomy on 2004-05-28.') in premises
    assert (
        False,
        'Premise "PSA after prostatectomy" does not hold: latest PSA 5.25 ng/mL on 2004-05-28, '
        "none after 2004-05-28.",
    ) in premises
    (sec,) = answer(board("loyd_connelly", question))
    texts = [s.text for s in sec.statements]
    assert any(
        t.startswith("Prostate specific Ag [Mass/volume] in Serum or Plasma (LOINC 2857-1), 2 values")
        for t in texts
    )
    assert any(t.startswith("PSA kinetics on or after 2004-05-28") for t in texts)
    assert not any(
        "Biopsy" in t for t in texts
    )  # "prostatectomy" names the surgery, not every prostate procedure
