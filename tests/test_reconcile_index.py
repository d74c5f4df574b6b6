"""Which picture concept(s) a reference belongs to, and why a concept has its status, on real records."""

from __future__ import annotations

import gc

import pytest
from record_global_support import (
    JENNY,
    LOYD,
    bundle_of,
    find,
    is_anastrozole_order,
    is_clinical_stage_group,
    is_her2,
    kill,
    load,
    ref,
    second_her2,
    stop_anastrozole,
)

from medboard.models import FactKind
from medboard.models.picture import ClinicalPicture
from medboard.tools.fhir import load_record
from medboard.tools.reconcile import build_picture, picture_of
from medboard.tools.reconcile.index import (
    PictureIndex,
    discordant_results,
    index_of,
    line_basis,
    medication_basis,
    result_key,
)


@pytest.fixture(scope="module")
def jenny_picture() -> ClinicalPicture:
    return build_picture(load_record(JENNY))


@pytest.fixture
def jenny_index(jenny_picture: ClinicalPicture) -> PictureIndex:
    return index_of(jenny_picture)


def test_an_order_belongs_to_its_ingredient_and_its_line(jenny_index: PictureIndex) -> None:
    order = ref(find(bundle_of(JENNY), is_anastrozole_order))
    concepts = jenny_index.of(order)
    assert [m.ingredient for m in concepts.medications] == ["anastrozole"]
    [(cancer, line)] = concepts.lines
    assert line.drugs == ["anastrozole"] and line.end is None and cancer.laterality == "left"
    assert not concepts.biomarkers and not concepts.stages and not concepts.vital_status
    assert jenny_index.medication("Anastrozole") is concepts.medications[0]  # case ignored


def test_results_stages_conditions_and_labs(jenny_index: PictureIndex) -> None:
    bundle = bundle_of(JENNY)
    [(_, her2)] = jenny_index.of(ref(find(bundle, is_her2))).biomarkers
    assert her2.name == "HER2" and not her2.conflict
    [(_, stage)] = jenny_index.of(ref(find(bundle, is_clinical_stage_group))).stages
    assert (stage.type, stage.group) == ("clinical", "IIB")
    condition = jenny_index.picture.cancers[0].condition
    assert (
        jenny_index.of(condition).cancers and jenny_index.cancer(condition) is jenny_index.picture.cancers[0]
    )
    record = load_record(JENNY)
    weight = next(f for f in record.facts_of(FactKind.vital) if "weight" in f.label.lower())
    assert [s.name for s in jenny_index.of(weight.reference).labs] == [weight.label]
    assert jenny_index.of("Observation/not-in-the-record").medications == []


def test_data_quality_and_discrepancies_name_their_sources() -> None:
    record = load_record(LOYD)
    index = index_of(picture_of(record))
    implausible = next(q for q in index.picture.data_quality if q.kind == "implausible_value")
    [source] = implausible.sources
    assert index.of(source).quality_of("implausible_value") == [implausible]
    assert index.of(source).labs == []  # never in a series


def test_the_basis_of_a_stop_a_stale_order_and_a_death() -> None:
    bundle = bundle_of(JENNY)
    order, stop = stop_anastrozole(bundle)
    picture = picture_of(load(bundle))
    anastrozole = next(m for m in picture.medications if m.ingredient == "anastrozole")
    assert medication_basis(anastrozole, picture).sources[0] == stop
    [line] = [line for c in picture.cancers for line in c.lines if line.drugs == ["anastrozole"]]
    assert line.status == "stopped" and line_basis(line, picture).sources[0] == stop

    untouched = picture_of(load_record(JENNY))
    stale = next(m for m in untouched.medications if m.status == "stale")
    assert medication_basis(stale, untouched).sources == (stale.sources[-1],)  # its last evidence

    dead = bundle_of(JENNY)
    patient = kill(dead, "2018-10-15")
    died = picture_of(load(dead))
    anastrozole = next(m for m in died.medications if m.ingredient == "anastrozole")
    assert anastrozole.status == "stale" and medication_basis(anastrozole, died).sources[0] == patient
    [line] = [line for c in died.cancers for line in c.lines if line.drugs == ["anastrozole"]]
    assert line_basis(line, died).sources[0] == patient and order in line.sources


def test_discordant_results_only_where_the_picture_sees_a_conflict() -> None:
    bundle = bundle_of(JENNY)
    negative, positive = second_her2(bundle)
    picture = build_picture(load(bundle))
    [(cancer, her2)] = index_of(picture).of(negative).biomarkers
    assert her2.conflict
    [(_, found)] = discordant_results(cancer, her2, {"negative"})
    assert found.source == positive and result_key(found) == "positive"
    assert discordant_results(cancer, her2, {"negative", "positive"}) == []
    # numbers are a trend, never a discordance; a biomarker without conflict has none
    oncotype = next(b for b in cancer.biomarkers if b.results and isinstance(b.results[0].value, float))
    assert result_key(oncotype.results[0]) is None and discordant_results(cancer, oncotype, set()) == []


def test_one_index_per_picture_and_none_kept_alive() -> None:
    picture = build_picture(load_record(JENNY))
    assert index_of(picture) is index_of(picture)
    from medboard.tools.reconcile import index as module

    index = index_of(picture)
    before = len(module._INDEXES)
    del picture
    gc.collect()
    assert len(module._INDEXES) == before - 1  # the cache does not keep a picture alive
    with pytest.raises(ReferenceError, match="keep the picture"):
        _ = index.picture
