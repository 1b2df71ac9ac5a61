"""Rulesets are data: the shipped files load and cite their sources; a broken file fails with a clear message that
names the file and the place; a program's local rules may only tighten a ruleset."""

from pathlib import Path

import pytest
import yaml

from trainingportal.engine import RulesetError, get_ruleset, list_rulesets, load_ruleset, merge_local_rules
from trainingportal.engine.rulesets import RULESET_DIR

SHIPPED = {"scmr-2018-level-1", "scmr-2018-level-2", "scmr-2018-level-3", "cbcmr-exam-eligibility"}
KINDS = {"min_duration", "min_cases", "category_coverage", "category_minimum", "didactic_hours", "competency_signoffs"}


# --- the shipped files ------------------------------------------------------------------------------------------


def test_the_four_shipped_rulesets_load():
    assert {r.id for r in list_rulesets()} == SHIPPED
    assert {p.stem for p in RULESET_DIR.glob("*.yaml")} == SHIPPED


@pytest.mark.parametrize("ruleset_id", sorted(SHIPPED))
def test_every_requirement_cites_a_source_and_says_how_sure_we_are(ruleset_id):
    ruleset = get_ruleset(ruleset_id)

    assert ruleset.rules
    for rule in ruleset.rules:
        assert rule.source in ruleset.citations, rule.key
        assert ruleset.citations[rule.source].strip(), rule.key
        assert rule.cites.strip(), rule.key
        assert rule.confidence.strip(), rule.key
        assert rule.kind in KINDS
        assert not rule.local
    if ruleset.mentor:
        assert ruleset.mentor["source"] in ruleset.citations and ruleset.mentor["confidence"].strip()
    assert ruleset.used_sources() == set(ruleset.citations)  # no citation is listed for nothing


@pytest.mark.parametrize(
    ("ruleset_id", "expected"),
    [
        ("scmr-2018-level-1", {"duration": 1, "interpreted": 50}),
        ("scmr-2018-level-2", {"duration": 3, "interpreted": 150, "hands_on": 50}),
        ("scmr-2018-level-3", {"duration": 12, "interpreted": 300, "hands_on": 100}),
        ("cbcmr-exam-eligibility", {"recent_cases": 100}),
    ],
)
def test_shipped_thresholds_match_the_spec(ruleset_id, expected):
    ruleset = get_ruleset(ruleset_id)
    values = {r.key: r.param("months", r.param("minimum")) for r in ruleset.rules if r.key in expected}
    assert values == expected


def test_level_2_is_scmr_with_the_overlay_and_carries_level_1_forward():
    ruleset = get_ruleset("scmr-2018-level-2")
    carried = {r.key for r in ruleset.rules if r.carried_forward}
    rules = {r.key: r for r in ruleset.rules}

    assert ruleset.scmr and ruleset.virtual_overlay and not ruleset.overlay_opted_in
    assert carried == {"duration", "interpreted"}
    assert rules["curriculum"].param("categories") == "all"
    assert rules["curriculum"].param("lecture_topics") == ["safety", "contrast"]
    assert (rules["hands_on"].param("min_in_person"), rules["hands_on"].param("max_virtual_share")) == (25, 50)
    # The interpretations have no cap of their own: the program's maximum applies under the overlay.
    assert rules["interpreted"].param("max_virtual_share") is None
    assert rules["interpreted"].param("complete_study") is True


@pytest.mark.parametrize(
    ("ruleset_id", "overlay", "mentor"),
    [
        ("scmr-2018-level-1", False, "II"),
        ("scmr-2018-level-2", True, "II"),
        ("scmr-2018-level-3", False, "III"),
        ("cbcmr-exam-eligibility", False, None),
    ],
)
def test_only_level_2_has_the_virtual_overlay_and_each_sets_its_mentor_level(ruleset_id, overlay, mentor):
    """The SCMR 2021 statement is about Level II; the others get it only when a program opts in."""
    ruleset = get_ruleset(ruleset_id)

    assert ruleset.virtual_overlay is overlay
    assert ruleset.mentor_min_level == mentor
    assert ("scmr-2021-virtual" in ruleset.citations) is (overlay or ruleset.mentor_source == "scmr-2021-virtual")
    opted_in = ruleset.with_overlay()
    if not ruleset.scmr:  # the overlay is SCMR's
        assert opted_in is ruleset
        return
    assert opted_in.virtual_overlay and opted_in.overlay_opted_in is (not overlay)
    assert "scmr-2021-virtual" in opted_in.used_sources()


def test_cbcmr_is_exam_eligibility_counting_any_recent_case():
    ruleset = get_ruleset("cbcmr-exam-eligibility")

    assert ruleset.title == "CBCMR exam eligibility — recent CMR case experience"
    assert not ruleset.scmr and not ruleset.virtual_overlay and ruleset.mentor is None
    assert [r.key for r in ruleset.rules] == ["recent_cases"]
    recent = ruleset.rules[0]
    assert recent.param("within_months") == 24 and recent.param("minimum") == 100
    assert recent.param("roles_any") is None  # any signed CMR case, in any role


def test_unknown_ruleset_names_the_known_ones():
    with pytest.raises(RulesetError, match="unknown ruleset 'scmr-2099'.*scmr-2018-level-2"):
        get_ruleset("scmr-2099")


# --- schema failures --------------------------------------------------------------------------------------------


def _valid() -> dict:
    return {
        "id": "local-test",
        "title": "A test ruleset",
        "version": 1,
        "body": "TEST",
        "target_level": "II",
        "scmr": True,
        "citations": {"paper": "A paper. 2018."},
        "requirements": [
            {
                "key": "interpreted",
                "kind": "min_cases",
                "label": "Cases interpreted",
                "minimum": 150,
                "roles_any": ["interpreted"],
                "source": "paper",
                "cites": "Section 1: 150 cases.",
                "confidence": "Medium.",
            },
            {
                "key": "duration",
                "kind": "min_duration",
                "label": "Duration",
                "months": 3,
                "source": "paper",
                "cites": "Section 2.",
                "confidence": "Low.",
            },
        ],
    }


def _write(tmp_path: Path, data, name: str = "local-test") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_a_valid_file_loads(tmp_path):
    ruleset = load_ruleset(_write(tmp_path, _valid()))

    assert ruleset.id == "local-test" and ruleset.label == "local-test v1"
    assert [r.key for r in ruleset.rules] == ["interpreted", "duration"]
    assert ruleset.rules[0].params == {"minimum": 150, "roles_any": ["interpreted"]}
    assert ruleset.citation(ruleset.rules[0]) == "A paper. 2018."
    assert ruleset.rules[0].cites == "Section 1: 150 cases."
    assert not ruleset.virtual_overlay and ruleset.mentor is None and ruleset.used_sources() == {"paper"}


def _broken(change):
    data = _valid()
    change(data)
    return data


def _set(path: tuple, value):
    def change(data):
        target = data
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


def _drop(path: tuple):
    def change(data):
        target = data
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return change


BROKEN = {
    "unknown kind": (
        _set(("requirements", 0, "kind"), "max_cases"),
        "requirements[0].kind: 'max_cases' is not one of",
    ),
    "missing minimum": (_drop(("requirements", 0, "minimum")), "requirements[0]: 'minimum' is a required property"),
    "negative minimum": (
        _set(("requirements", 0, "minimum"), -5),
        "requirements[0].minimum: -5 is less than the minimum of 1",
    ),
    "zero minimum": (_set(("requirements", 0, "minimum"), 0), "requirements[0].minimum: 0 is less than the minimum"),
    "minimum as a string": (_set(("requirements", 0, "minimum"), "150"), "requirements[0].minimum: '150' is not of"),
    "zero months": (_set(("requirements", 1, "months"), 0), "requirements[1].months: 0 is less than or equal to"),
    "unknown role": (
        _set(("requirements", 0, "roles_any"), ["interpreted", "driver"]),
        "requirements[0].roles_any[1]: 'driver' is not one of",
    ),
    "unknown delivery": (
        _set(("requirements", 0, "delivery_in"), ["telepathy"]),
        "requirements[0].delivery_in[0]: 'telepathy' is not one of",
    ),
    "extra property in a rule": (
        _set(("requirements", 0, "maximum"), 300),
        "requirements[0]: Additional properties are not allowed ('maximum' was unexpected)",
    ),
    "property of another kind": (
        _set(("requirements", 1, "minimum"), 3),
        "requirements[1]: Additional properties are not allowed ('minimum' was unexpected)",
    ),
    "extra top-level property": (
        _set(("colour",), "red"),
        "(top): Additional properties are not allowed ('colour' was unexpected)",
    ),
    "missing id": (_drop(("id",)), "(top): 'id' is a required property"),
    "missing label": (_drop(("requirements", 0, "label")), "requirements[0]: 'label' is a required property"),
    "no requirements": (_set(("requirements",), []), "requirements: [] should be non-empty"),
    "bad key": (_set(("requirements", 0, "key"), "Interpreted Cases"), "requirements[0].key: 'Interpreted Cases'"),
    "version zero": (_set(("version",), 0), "version: 0 is less than the minimum of 1"),
    "share over 100": (
        _set(
            ("requirements", 1),
            {"key": "c", "kind": "category_minimum", "label": "C", "category": "flow", "min_share_percent": 120},
        ),
        "requirements[1].min_share_percent: 120 is greater than the maximum of 100",
    ),
    "category minimum without minimum or share": (
        _set(("requirements", 1), {"key": "c", "kind": "category_minimum", "label": "C", "category": "flow"}),
        "requirements[1]:",
    ),
    "coverage of an unknown word": (
        _set(("requirements", 1), {"key": "c", "kind": "category_coverage", "label": "C", "categories": "most"}),
        "requirements[1].categories:",
    ),
    "duplicate requirement keys": (
        _set(("requirements", 1, "key"), "interpreted"),
        "requirement keys must be unique; repeated: interpreted",
    ),
    "source without a citation": (
        _set(("requirements", 1, "source"), "hearsay"),
        "sources without a citation: hearsay",
    ),
    "week hours are gone": (
        _set(("week_hours",), 35),
        "(top): Additional properties are not allowed ('week_hours' was unexpected)",
    ),
    "virtual share over 100": (
        _set(("requirements", 0, "max_virtual_share"), 101),
        "requirements[0].max_virtual_share: 101 is greater than the maximum of 100",
    ),
    "negative in-person minimum": (
        _set(("requirements", 0, "min_in_person"), -1),
        "requirements[0].min_in_person: -1 is less than the minimum of 0",
    ),
    "lecture topics on a case rule": (
        _set(("requirements", 0, "lecture_topics"), ["safety"]),
        "requirements[0]: Additional properties are not allowed ('lecture_topics' was unexpected)",
    ),
    "empty cites": (_set(("requirements", 0, "cites"), ""), "requirements[0].cites: '' should be non-empty"),
    "unknown mentor level": (
        _set(("mentor",), {"min_level": "IV", "source": "paper", "confidence": "Low."}),
        "mentor.min_level: 'IV' is not one of",
    ),
    "mentor without a confidence": (
        _set(("mentor",), {"min_level": "II", "source": "paper"}),
        "mentor: 'confidence' is a required property",
    ),
    "mentor source without a citation": (
        _set(("mentor",), {"min_level": "II", "source": "hearsay", "confidence": "Low."}),
        "sources without a citation: hearsay",
    ),
    "a rule without what it cites": (
        _drop(("requirements", 1, "cites")),
        "requirement 'duration' needs a source, what it cites and a confidence",
    ),
    "a rule without a confidence": (
        _drop(("requirements", 0, "confidence")),
        "requirement 'interpreted' needs a source, what it cites and a confidence",
    ),
    "a rule without a source": (
        _drop(("requirements", 1, "source")),
        "requirement 'duration' needs a source, what it cites and a confidence",
    ),
    "a citation no rule uses": (
        _set(("citations", "other"), "Another paper. 2021."),
        "citations no rule uses: other",
    ),
}


@pytest.mark.parametrize("case", BROKEN)
def test_schema_failure_names_the_file_and_the_place(tmp_path, case):
    change, message = BROKEN[case]
    path = _write(tmp_path, _broken(change))

    with pytest.raises(RulesetError) as raised:
        load_ruleset(path)

    assert str(raised.value).startswith("local-test.yaml: ")
    assert message in str(raised.value)


def test_id_must_match_the_file_name(tmp_path):
    path = _write(tmp_path, _valid(), name="scmr-2018-level-2")

    with pytest.raises(RulesetError, match=r"^scmr-2018-level-2\.yaml: id 'local-test' must match the file name$"):
        load_ruleset(path)


@pytest.mark.parametrize(
    "text",
    [
        "id: [unclosed\n",
        "id: x\n  title: bad indent\n - y",
        "requirements:\n\t- key: tab\n",
    ],
)
def test_invalid_yaml_says_so_and_names_the_file(tmp_path, text):
    with pytest.raises(RulesetError, match=r"^local-test\.yaml: not valid YAML"):
        load_ruleset(_write(tmp_path, text))


@pytest.mark.parametrize("text", ["", "just a string\n", "- a\n- list\n"])
def test_a_file_that_is_not_a_mapping_fails_the_schema(tmp_path, text):
    with pytest.raises(RulesetError, match=r"^local-test\.yaml: \(top\): "):
        load_ruleset(_write(tmp_path, text))


def test_a_repeated_yaml_key_is_refused_not_silently_overwritten(tmp_path):
    # Two `minimum:` lines: PyYAML keeps the last one, so a threshold could change without anyone seeing it.
    text = yaml.safe_dump(_valid(), sort_keys=False).replace("  minimum: 150\n", "  minimum: 150\n  minimum: 15\n")
    assert text.count("minimum:") == 2

    with pytest.raises(RulesetError, match=r"^local-test\.yaml: .*minimum"):
        load_ruleset(_write(tmp_path, text))


# --- a program's local rules ------------------------------------------------------------------------------------

LEVEL_2 = "scmr-2018-level-2"


def test_no_local_rules_returns_the_ruleset_itself():
    base = get_ruleset(LEVEL_2)
    assert merge_local_rules(base, []) is base


def test_a_new_category_minimum_is_added_and_marked_local():
    base = get_ruleset(LEVEL_2)
    local = {"key": "congenital", "kind": "category_minimum", "label": "Congenital cases", "category": "congenital"}

    merged = merge_local_rules(base, [{**local, "minimum": 10}])

    assert [r.key for r in merged.rules] == [r.key for r in base.rules] + ["congenital"]
    added = merged.rules[-1]
    assert added.local and added.param("minimum") == 10
    assert not any(r.local for r in merged.rules[:-1])
    assert base.rules[-1].key == "curriculum"  # the cached shipped ruleset is untouched


def test_a_new_share_rule_is_added():
    local = {"key": "stress", "kind": "category_minimum", "label": "Stress", "category": "pharmacologic-stress"}
    merged = merge_local_rules(get_ruleset(LEVEL_2), [{**local, "min_share_percent": 10}])
    assert merged.rules[-1].param("min_share_percent") == 10


def test_tightening_a_minimum_replaces_it():
    base = get_ruleset(LEVEL_2)
    merged = merge_local_rules(
        base, [{"key": "interpreted", "kind": "min_cases", "label": "Cases interpreted (local)", "minimum": 200}]
    )

    rule = next(r for r in merged.rules if r.key == "interpreted")
    assert rule.param("minimum") == 200 and rule.local and rule.label == "Cases interpreted (local)"
    # What the local rule did not say is kept from the base: the filter, the carry-forward, the source.
    assert rule.param("roles_any") == ["interpreted"] and rule.carried_forward and rule.source == "scmr-2021-virtual"
    assert rule.cites == next(r for r in base.rules if r.key == "interpreted").cites and rule.confidence
    assert [r.key for r in merged.rules] == [r.key for r in base.rules]
    assert next(r for r in base.rules if r.key == "interpreted").param("minimum") == 150


@pytest.mark.parametrize(
    ("local", "param", "new", "old"),
    [
        ({"key": "interpreted", "kind": "min_cases", "label": "I", "minimum": 100}, "minimum", 100, 150),
        ({"key": "interpreted", "kind": "min_cases", "label": "I", "minimum": 149}, "minimum", 149, 150),
        ({"key": "hands_on", "kind": "min_cases", "label": "H", "minimum": 49}, "minimum", 49, 50),
        ({"key": "duration", "kind": "min_duration", "label": "D", "months": 2.5}, "months", 2.5, 3),
    ],
)
def test_weakening_a_shipped_rule_is_refused(local, param, new, old):
    with pytest.raises(RulesetError) as raised:
        merge_local_rules(get_ruleset(LEVEL_2), [local])

    message = str(raised.value)
    assert "weaker" in message
    assert f"{local['key']!r}" in message and f"{param} {new} < {old}" in message
    assert "scmr-2018-level-2 v3" in message


def test_equal_threshold_is_allowed():
    local = {"key": "interpreted", "kind": "min_cases", "label": "I", "minimum": 150}
    assert merge_local_rules(get_ruleset(LEVEL_2), [local]).rules[1].param("minimum") == 150


def test_changing_the_kind_is_refused():
    local = {"key": "interpreted", "kind": "category_minimum", "label": "I", "category": "flow", "minimum": 500}

    with pytest.raises(RulesetError, match="local rule 'interpreted' must keep the kind 'min_cases'"):
        merge_local_rules(get_ruleset(LEVEL_2), [local])


def test_a_local_rule_that_fails_the_schema_is_refused_with_its_position():
    rules = [
        {"key": "ok", "kind": "category_minimum", "label": "OK", "category": "flow", "minimum": 1},
        {"key": "bad", "kind": "min_cases", "label": "Bad", "minimum": -1},
    ]
    with pytest.raises(RulesetError, match=r"^local rule 2: minimum: -1 is less than the minimum of 1"):
        merge_local_rules(get_ruleset(LEVEL_2), rules)


def test_widening_the_roles_of_a_shipped_rule_is_refused():
    # Same minimum, but post-processed cases would now count as interpretations: weaker, though no number went down.
    local = {
        "key": "interpreted",
        "kind": "min_cases",
        "label": "Cases interpreted",
        "minimum": 150,
        "roles_any": ["interpreted", "post_processed"],
    }
    with pytest.raises(RulesetError, match="weaker|widen"):
        merge_local_rules(get_ruleset(LEVEL_2), [local])


HANDS_ON = {"key": "hands_on", "kind": "min_cases", "label": "Performed", "minimum": 50}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"min_in_person": 24}, "relaxes min_in_person of scmr-2018-level-2 v3 (24 instead of 25)"),
        ({"max_virtual_share": 51}, "relaxes max_virtual_share of scmr-2018-level-2 v3 (51 instead of 50)"),
    ],
)
def test_relaxing_the_in_person_part_of_a_shipped_rule_is_refused(change, message):
    with pytest.raises(RulesetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        merge_local_rules(get_ruleset(LEVEL_2), [{**HANDS_ON, **change}])


def test_tightening_the_in_person_part_of_a_shipped_rule_is_allowed():
    merged = merge_local_rules(get_ruleset(LEVEL_2), [{**HANDS_ON, "min_in_person": 40, "max_virtual_share": 20}])
    rule = next(r for r in merged.rules if r.key == "hands_on")

    assert (rule.param("min_in_person"), rule.param("max_virtual_share"), rule.local) == (40, 20, True)
    assert rule.param("roles_any") == ["primary_operator", "assisted_console"]


def test_letting_lectures_cover_more_topics_is_refused():
    local = {"key": "curriculum", "kind": "category_coverage", "label": "Topics", "categories": "all"}

    with pytest.raises(RulesetError, match="lets lectures cover more topics than scmr-2018-level-2 v3: flow"):
        merge_local_rules(get_ruleset(LEVEL_2), [{**local, "lecture_topics": ["safety", "flow"]}])
    narrowed = merge_local_rules(get_ruleset(LEVEL_2), [{**local, "lecture_topics": ["safety"]}])
    assert next(r for r in narrowed.rules if r.key == "curriculum").param("lecture_topics") == ["safety"]


def test_counting_incomplete_studies_is_refused():
    local = {"key": "interpreted", "kind": "min_cases", "label": "I", "minimum": 150, "complete_study": False}

    with pytest.raises(RulesetError, match="changes complete_study of scmr-2018-level-2 v3"):
        merge_local_rules(get_ruleset(LEVEL_2), [local])


def test_widening_a_recency_window_is_refused():
    local = {"key": "recent_cases", "kind": "min_cases", "label": "Recent", "minimum": 100, "within_months": 36}

    with pytest.raises(RulesetError, match=r"widens within_months of cbcmr-exam-eligibility v1 \(36 > 24\)"):
        merge_local_rules(get_ruleset("cbcmr-exam-eligibility"), [local])
