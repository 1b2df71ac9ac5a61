"""The vocabulary of a logged CMR study: the versioned diagnosis taxonomy (mapped to the curriculum topics) and the
fixed list of sequences. Data, not code: curriculum/data/cmr-diagnoses-v<N>.yaml."""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parent / "data"
TAXONOMY_VERSION = "cmr-diagnoses v1"

# The sequences a trainee can tick (value, label). Rulesets may count cases per sequence (e.g. stress perfusion).
SEQUENCES = [
    ("cine", "Cine (SSFP)"),
    ("lge", "Late gadolinium enhancement"),
    ("t1_mapping", "T1 mapping"),
    ("ecv", "Extracellular volume (ECV)"),
    ("t2_mapping", "T2 mapping"),
    ("t2_weighted", "T2-weighted / STIR"),
    ("t2_star", "T2*"),
    ("stress_perfusion", "Stress perfusion"),
    ("rest_perfusion", "Rest perfusion"),
    ("phase_contrast", "Phase-contrast flow"),
    ("4d_flow", "4D flow"),
    ("mra", "MR angiography"),
    ("black_blood", "Black blood"),
    ("real_time_cine", "Real-time cine"),
    ("strain", "Strain / tagging"),
    ("coronary_mra", "Coronary MRA"),
]
SEQUENCE_CODES = frozenset(code for code, _ in SEQUENCES)
# Short names for dense tables (the dossier's case log).
SEQUENCE_SHORT = {
    "cine": "cine", "lge": "LGE", "t1_mapping": "T1 map", "ecv": "ECV", "t2_mapping": "T2 map",
    "t2_weighted": "T2w", "t2_star": "T2*", "stress_perfusion": "stress perf", "rest_perfusion": "rest perf",
    "phase_contrast": "PC flow", "4d_flow": "4D flow", "mra": "MRA", "black_blood": "black blood",
    "real_time_cine": "RT cine", "strain": "strain", "coronary_mra": "coronary MRA",
}  # fmt: skip
_BY_WORD = {label.lower(): code for code, label in SEQUENCES} | {
    code.replace("_", " "): code for code in SEQUENCE_CODES
}
# Free-text technique tags of the first version, as trainees wrote them.
_TAGS = {
    "cine": "cine", "ssfp": "cine", "lge": "lge", "t1 mapping": "t1_mapping", "t1": "t1_mapping", "ecv": "ecv",
    "t2 mapping": "t2_mapping", "t2": "t2_mapping", "stir": "t2_weighted", "t2*": "t2_star", "t2 star": "t2_star",
    "stress perfusion": "stress_perfusion", "perfusion": "stress_perfusion", "rest perfusion": "rest_perfusion",
    "phase contrast": "phase_contrast", "flow": "phase_contrast", "4d flow": "4d_flow", "mra": "mra",
    "black blood": "black_blood", "real-time cine": "real_time_cine", "strain / tagging": "strain",
    "strain": "strain", "tagging": "strain", "coronary mra": "coronary_mra",
}  # fmt: skip


def sequence_code(word: str) -> str | None:
    """A sequence code from its code, label or an old free-text tag ("LGE", "T1 mapping"); None if unknown."""
    key = word.strip().lower()
    if key in SEQUENCE_CODES:
        return key
    return _BY_WORD.get(key) or _TAGS.get(key)


@dataclass(frozen=True)
class Diagnosis:
    code: str
    label: str
    group: str
    group_label: str
    topics: tuple[str, ...]


@cache
def _taxonomy() -> dict[str, Diagnosis]:
    data = yaml.safe_load((DATA / "cmr-diagnoses-v1.yaml").read_text(encoding="utf-8"))
    diagnoses = {}
    for group in data["groups"]:
        for d in group["diagnoses"]:
            if d["code"] in diagnoses:
                raise ValueError(f"diagnosis {d['code']!r} appears twice")
            diagnoses[d["code"]] = Diagnosis(d["code"], d["label"], group["code"], group["label"], tuple(d["topics"]))
    return diagnoses


def diagnoses() -> list[Diagnosis]:
    return list(_taxonomy().values())


def diagnosis(code: str) -> Diagnosis | None:
    return _taxonomy().get(code)


def diagnosis_choices() -> list:
    """Grouped choices for a select: [(group label, [(code, label), ...]), ...]."""
    groups: dict[str, list] = {}
    for d in diagnoses():
        groups.setdefault(d.group_label, []).append((d.code, d.label))
    return list(groups.items())


def group_of(code: str) -> str:
    d = diagnosis(code)
    return d.group if d else ""


def codes_in_groups(groups) -> list[str]:
    wanted = set(groups)
    return sorted(d.code for d in diagnoses() if d.group in wanted)


def diagnosis_groups() -> list[tuple[str, str]]:
    seen = {}
    for d in diagnoses():
        seen.setdefault(d.group, d.group_label)
    return list(seen.items())
