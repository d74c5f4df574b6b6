"""Images ↔ ImagingStudy ↔ DiagnosticReport, through the real FHIR loader's facts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from imaging_support import TEST_DATA, write_dicom_series

from medboard.tools.fhir import load_record
from medboard.tools.imaging.linking import link_series, reports_for_study
from medboard.tools.imaging.load import load_image


def _bundle(study_uid: str, series_uid: str, other_study_uid: str) -> dict[str, Any]:
    def entry(resource: dict[str, Any]) -> dict[str, Any]:
        return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}

    patient = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Test"}]}
    subject = {"reference": "urn:uuid:p1"}
    ct_study = {
        "resourceType": "ImagingStudy",
        "id": "ct-study",
        "status": "available",
        "subject": subject,
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{study_uid}"}],
        "series": [
            {
                "uid": series_uid,
                "modality": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"},
            }
        ],
    }
    by_study_uid = {
        "resourceType": "ImagingStudy",
        "id": "other-study",
        "status": "available",
        "subject": subject,
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{other_study_uid}"}],
    }
    mr_study = {"resourceType": "ImagingStudy", "id": "mr-study", "status": "available", "subject": subject}
    report = {
        "resourceType": "DiagnosticReport",
        "id": "ct-report",
        "status": "final",
        "subject": subject,
        "code": {"text": "CT head"},
        "imagingStudy": [{"reference": "urn:uuid:ct-study"}],
        "conclusion": "No acute intracranial abnormality.",
    }
    resources = [patient, ct_study, by_study_uid, mr_study, report]
    return {"resourceType": "Bundle", "type": "collection", "entry": [entry(r) for r in resources]}


def test_link_by_series_uid_study_uid_and_case_map(tmp_path: Path) -> None:
    write_dicom_series(tmp_path / "ct", 3, 8, 8, series_uid="1.2.840.99.1.1", study_uid="1.2.840.99.1")
    # a second series of another study, known to the record only by its StudyInstanceUID
    write_dicom_series(tmp_path / "other", 2, 8, 8, series_uid="1.2.840.99.2.7", study_uid="1.2.840.99.2")
    record = load_record(_bundle("1.2.840.99.1", "1.2.840.99.1.1", "1.2.840.99.2"), name="linking-test")
    ct = load_image(tmp_path / "ct")
    other = load_image(tmp_path / "other")
    mr = load_image(TEST_DATA / "brain1_image.nrrd")  # no UIDs: linked through the case YAML map
    unlinked = load_image(TEST_DATA / "retina.jpg")

    links = link_series(
        [ct, other, mr, unlinked],
        record.facts,
        case_map={"ImagingStudy/mr-study": str(TEST_DATA / "brain1_image.nrrd")},
    )
    by_series = {link.series_id: link for link in links}
    assert by_series[ct.id].study == "ImagingStudy/ct-study" and by_series[ct.id].matched_by == "series_uid"
    assert by_series[ct.id].reports == ("DiagnosticReport/ct-report",)
    assert by_series[other.id].study == "ImagingStudy/other-study"
    assert by_series[other.id].matched_by == "study_uid" and by_series[other.id].reports == ()
    assert by_series[mr.id].study == "ImagingStudy/mr-study" and by_series[mr.id].matched_by == "case_map"
    assert unlinked.id not in by_series
    assert reports_for_study("ImagingStudy/ct-study", record.facts) == ["DiagnosticReport/ct-report"]


def test_case_map_folder_covers_files_inside(tmp_path: Path) -> None:
    write_dicom_series(tmp_path / "case" / "ct", 2, 8, 8)
    record = load_record(_bundle("9.9", "9.9.1", "9.8"), name="linking-test")
    series = load_image(tmp_path / "case" / "ct")
    links = link_series([series], record.facts, case_map={"ImagingStudy/mr-study": str(tmp_path / "case")})
    assert [(link.study, link.matched_by) for link in links] == [("ImagingStudy/mr-study", "case_map")]
