"""Rulesets are data: the shipped files load and cite their sources; a broken file fails with a clear message that
names the file and the place; a program's local rules may only tighten a ruleset."""

from pathlib import Path

import pytest
import yaml

from trainingportal.engine import RulesetError, get_ruleset, list_rulesets, load_ruleset, merge_local_rules
from trainingportal.engine.rulesets import RULESET_DIR

SHIPPED = {"scmr-2018-level-1", "scmr-2018-level-2", "scmr-2018-level-3", "cbcmr-maintenance"}
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
        assert rule.confidence.strip(), rule.key
        assert rule.kind in KINDS
        assert not rule.local


@pytest.mark.parametrize(
    ("ruleset_id", "expected"),
    [
        ("scmr-2018-level-1", {"duration": 1, "interpreted": 50}),
        ("scmr-2018-level-2", {"duration": 3, "interpreted": 150, "hands_on": 50}),
        ("scmr-2018-level-3", {"duration": 12, "interpreted": 300, "hands_on": 100}),
        ("cbcmr-maintenance", {"recent_cases": 100}),
    ],
)
def test_shipped_thresholds_match_the_spec(ruleset_id, expected):
    ruleset = get_ruleset(ruleset_id)
    values = {r.key: r.param("months", r.param("minimum")) for r in ruleset.rules if r.key in expected}
    assert values == expected


def test_level_2_is_scmr_with_the_overlay_and_carries_level_1_forward():
    ruleset = get_ruleset("scmr-2018-level-2")
    carried = {r.key for r in ruleset.rules if r.carried_forward}

    assert ruleset.scmr and ruleset.virtual_overlay
    assert carried == {"duration", "interpreted"}
    assert next(r for r in ruleset.rules if r.key == "curriculum").param("categories") == "all"


def test_cbcmr_is_not_scmr_and_has_no_overlay():
    ruleset = get_ruleset("cbcmr-maintenance")
    assert not ruleset.scmr and not ruleset.virtual_overlay
    assert ruleset.rules[0].param("within_months") == 24


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
                "confidence": "Medium.",
            },
            {"key": "duration", "kind": "min_duration", "label": "Duration", "months": 3, "source": "paper"},
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
    assert ruleset.week_hours == 35 and not ruleset.virtual_overlay


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
    assert rule.param("roles_any") == ["interpreted"] and rule.carried_forward and rule.source == "scmr-2018"
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
    assert "scmr-2018-level-2 v2" in message


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
