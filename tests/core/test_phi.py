"""The PHI guard's corpus: what it must refuse, and normal CMR report text it must let through.

Bare dates are let through on purpose: a study date is not an identifier on its own, and every case-log entry records
its study date anyway (`performed_on`). A date is refused when it is tied to birth ("DOB", "born", "date of birth").
"""

import pytest
from django.core.exceptions import ValidationError

from trainingportal.core.phi import check_phi, check_phi_fields, find_phi

# (text, what it contains)
POSITIVES = [
    ("Mr Smith, 54, referred with chest pain", "a patient name"),
    ("Mrs. O'Brien referred for CMR", "a patient name"),
    ("Ms Nguyen reports palpitations", "a patient name"),
    ("Miss Patel, known HCM", "a patient name"),
    ("Mx Taylor attended with a partner", "a patient name"),
    ("Mr SMITH, 54, chest pain", "a patient name"),
    ("Patient: Smith", "a patient name"),
    ("Patient name: Jones, re-scan", "a patient name"),
    ("Name: Okafor", "a patient name"),
    ("Surname: Kowalski", "a patient name"),
    ("DOB 03/04/1961", "a date of birth"),
    ("D.O.B.: 3.4.1961", "a date of birth"),
    ("date of birth 1961-04-03", "a date of birth"),
    ("born 12 March 1955", "a date of birth"),
    ("Born on March 12, 1955", "a date of birth"),
    ("DOB 03-Apr-1961", "a date of birth"),
    ("DOB: 3rd April 1961", "a date of birth"),
    ("MRN 12345678", "a medical record number"),
    ("MRN: 00123456", "a medical record number"),
    ("Medical record number 7654321", "a medical record number"),
    ("Hospital number: A123456", "a medical record number"),
    ("NHS no 943 476 5919", "a medical record number"),
    ("NHS number: 9434765919", "a medical record number"),
    ("Patient ID P-99812", "a medical record number"),
    ("Call the ward on +44 20 7946 0958", "a phone number"),
    ("Phone (617) 555-0182 for results", "a phone number"),
    ("+1-617-555-0182", "a phone number"),
    ("Mobile 07700 900123", "a phone number"),
    ("Phone 617.555.0182", "a phone number"),
    ("Contact john.smith@gmail.com", "an e-mail address"),
    ("Report to jane_doe+cmr@nhs.net please", "an e-mail address"),
    ("Acc# 20231104-0042", "an accession number"),
    ("Accession number: CMR2023110442", "an accession number"),
    ("SSN 123-45-6789", "a social security number"),
    ("SSN: 123 45 6789", "a social security number"),
]

NEGATIVES = [
    "LVEF 55%, LV EDVi 82 ml/m2",
    "T1 1010 ms at 1.5T",
    "Qp:Qs 1.8:1",
    "LGE mid-wall septal 3/17 segments",
    "Follow-up in 6-12 months",
    "Dr. review agreed",
    "Stress perfusion 140 mcg/kg/min adenosine",
    "AHA segments 1-6",
    "Study 2026-11-20",
    "Study date 20/11/2026",
    "Compared with the prior CMR of 12 March 2024: unchanged",
    "Native T1 1290 ms, ECV 38% at 3T",
    "T2 52 ms, consistent with oedema",
    "RVEF 48%, RV EDVi 110 ml/m2",
    "Aortic root 38 mm at the sinus, ascending aorta 41 mm",
    "Peak velocity 4.2 m/s, regurgitant fraction 32%",
    "Max wall thickness 22 mm in the basal anteroseptum",
    "Gadobutrol 0.1 mmol/kg, regadenoson 400 mcg bolus",
    "Heart rate 62 bpm, BP 128/76 mmHg",
    "Scan 09:30-10:15 on the 1.5T scanner",
    "Patient tolerated the scan well",
    "Name of sequence: MOLLI 5(3)3",
    "MR moderate, MS mild",
    "Dr. Smith reviewed; agree with the mentor",
    "ACC/AHA 2013 criteria met",
    "Perfusion defect in 2 of 16 segments",
    "TE 1.2 ms, TR 3.0 ms, flip angle 50",
    "Matrix 256 x 192, FOV 360 mm",
    "GLS -14.2%, GCS -18%",
    "LV mass index 95 g/m2",
    "Accessory pathway suspected; no LGE",
    "Accelerated cine with compressed sensing",
    "Accuracy of native T1 is limited by arrhythmia",
    "Planned according to the SCMR protocol",
    "Native T1 1010-1050 ms (local normal range)",
    "LV EDV 120-180 ml",
    "The patient: cooperative, no claustrophobia",
    "Referred by the local NHS Trust cardiology service",
]


@pytest.mark.parametrize(("text", "kind"), POSITIVES, ids=[p[0] for p in POSITIVES])
def test_guard_refuses_patient_identifiers(text, kind):
    with pytest.raises(ValidationError):
        check_phi(text, field_label="Findings")

    assert find_phi(text), f"{text!r} contains {kind} and was let through"


@pytest.mark.parametrize("text", NEGATIVES)
def test_guard_lets_cmr_report_text_through(text):
    assert find_phi(text) == []


def test_corpus_is_large_enough():
    assert len(POSITIVES) >= 25 and len(NEGATIVES) >= 25


def test_check_phi_names_the_field_and_what_was_found():
    with pytest.raises(ValidationError) as exc_info:
        check_phi("LVEF 40%. MRN 12345678.", field_label="Findings")

    message = exc_info.value.messages[0]
    assert message.startswith("Findings looks like it contains patient identifiers")
    assert "a medical record number" in message and "MRN 12345678" in message
    assert exc_info.value.code == "phi"


def test_check_phi_reports_every_kind_once():
    findings = find_phi("Mr Smith and Mrs Jones, MRN 12345678, john@example.com")

    assert [f.kind for f in findings] == ["a medical record number", "an e-mail address", "a patient name"]


def test_check_phi_fields_keys_errors_by_field():
    with pytest.raises(ValidationError) as exc_info:
        check_phi_fields(
            {"findings": "DOB 03/04/1961", "impression": "Normal study", "key_measurements": None},
            {"findings": "Findings"},
        )

    assert list(exc_info.value.message_dict) == ["findings"]
    assert "Findings" in exc_info.value.message_dict["findings"][0]


@pytest.mark.parametrize("text", ["", None])
def test_empty_text_is_fine(text):
    assert find_phi(text) == []
    check_phi(text or "", field_label="Findings")
