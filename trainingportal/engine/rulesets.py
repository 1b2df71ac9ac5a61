"""Rulesets: versioned requirement files (trainingportal/engine/rulesets/*.yaml), checked against a schema when loaded."""

from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .facts import LEVEL_RANK, ROLES

RULESET_DIR = Path(__file__).resolve().parent / "rulesets"
CURRICULUM_ALL = "all"
VIRTUAL_SOURCE = "scmr-2021-virtual"  # the citation key of the virtual overlay's rules

_ROLE = {"enum": list(ROLES)}
_DELIVERY = {"enum": ["in_person", "virtual_live_two_way", "asynchronous"]}
_SOURCE = {"enum": ["center_archive", "registry", "live_scan", "teaching_file"]}
_SLUG = {"type": "string", "pattern": "^[a-z0-9-]+$"}
_CODE = {"type": "string", "pattern": "^[a-z0-9_]+$"}
_COMMON = {
    "key": {"type": "string", "pattern": "^[a-z0-9_]+$"},
    "kind": {"type": "string"},
    "label": {"type": "string", "minLength": 1},
    "short": {"type": "string", "minLength": 1, "maxLength": 20},
    "source": {"type": "string"},
    # The sentence (a quote) or the section of the source the rule rests on.
    "cites": {"type": "string", "minLength": 1},
    "confidence": {"type": "string"},
    "carried_forward": {"type": "boolean"},
}
_KINDS: dict[str, dict[str, Any]] = {
    "min_duration": {"required": ["months"], "properties": {"months": {"type": "number", "exclusiveMinimum": 0}}},
    "min_cases": {
        "required": ["minimum"],
        "properties": {
            "minimum": {"type": "integer", "minimum": 1},
            "roles_any": {"type": "array", "items": _ROLE, "minItems": 1},
            "delivery_in": {"type": "array", "items": _DELIVERY, "minItems": 1},
            "source_in": {"type": "array", "items": _SOURCE, "minItems": 1},
            "categories_any": {"type": "array", "items": _SLUG, "minItems": 1},
            # Breadth: cases of a diagnosis group (curriculum.cmr taxonomy) or with a sequence (e.g. stress_perfusion).
            "diagnosis_groups_any": {"type": "array", "items": _SLUG, "minItems": 1},
            "sequences_any": {"type": "array", "items": _CODE, "minItems": 1},
            "complete_study": {"type": "boolean"},
            "within_months": {"type": "integer", "minimum": 1},
            # At least this many of the counted entries delivered in person.
            "min_in_person": {"type": "integer", "minimum": 0},
            # At most this share of the required minimum may be made of virtual entries (the rest must be in person).
            "max_virtual_share": {"type": "integer", "minimum": 0, "maximum": 100},
        },
    },
    "category_coverage": {
        "required": ["categories"],
        "properties": {
            "categories": {"oneOf": [{"const": CURRICULUM_ALL}, {"type": "array", "items": _SLUG, "minItems": 1}]},
            "min_per_category": {"type": "integer", "minimum": 1},
            # Topics a completed lecture of the library on that topic covers as well as a case (e.g. safety).
            "lecture_topics": {"type": "array", "items": _SLUG, "minItems": 1},
        },
    },
    "category_minimum": {
        "required": ["category"],
        "anyOf": [{"required": ["minimum"]}, {"required": ["min_share_percent"]}],
        "properties": {
            "category": _SLUG,
            "minimum": {"type": "integer", "minimum": 1},
            "min_share_percent": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
        },
    },
    "didactic_hours": {"required": ["hours"], "properties": {"hours": {"type": "number", "exclusiveMinimum": 0}}},
    "competency_signoffs": {
        "required": ["competencies"],
        "properties": {"competencies": {"type": "array", "items": _SLUG, "minItems": 1}},
    },
}


def _rule_schema() -> dict:
    branches = []
    for kind, spec in _KINDS.items():
        branch = {
            "if": {"properties": {"kind": {"const": kind}}},
            "then": {
                "required": ["key", "kind", "label", *spec["required"]],
                "properties": {**_COMMON, **spec["properties"]},
                "additionalProperties": False,
            },
        }
        if "anyOf" in spec:
            branch["then"]["anyOf"] = spec["anyOf"]
        branches.append(branch)
    return {
        "type": "object",
        "required": ["key", "kind", "label"],
        "properties": {"kind": {"enum": sorted(_KINDS)}},
        "allOf": branches,
    }


RULE_SCHEMA = _rule_schema()
RULESET_SCHEMA = {
    "type": "object",
    "required": ["id", "title", "version", "body", "target_level", "scmr", "requirements"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z0-9-]+$"},
        "title": {"type": "string"},
        "version": {"type": "integer", "minimum": 1},
        "body": {"type": "string"},
        "target_level": {"type": "string"},
        "scmr": {"type": "boolean"},
        "virtual_overlay": {"type": "boolean"},
        "citations": {"type": "object", "additionalProperties": {"type": "string"}},
        # Whose signature makes an entry count: the signing mentor's minimum CMR level.
        "mentor": {
            "type": "object",
            "required": ["min_level", "source", "confidence"],
            "additionalProperties": False,
            "properties": {
                "min_level": {"enum": list(LEVEL_RANK)},
                "source": {"type": "string"},
                "confidence": {"type": "string", "minLength": 1},
            },
        },
        "requirements": {"type": "array", "minItems": 1, "items": RULE_SCHEMA},
    },
}


class RulesetError(ValueError):
    """A ruleset file (or a program's local rules) does not fit the schema or breaks a ruleset invariant."""


@dataclass(frozen=True)
class Rule:
    key: str
    kind: str
    label: str
    params: dict = field(default_factory=dict, hash=False)
    source: str = ""
    confidence: str = ""
    carried_forward: bool = False
    local: bool = False  # added or tightened by the program
    cites: str = ""  # the sentence or section of the source

    def param(self, name: str, default=None):
        return self.params.get(name, default)

    @property
    def short(self) -> str:
        return self.params.get("short", self.label)


@dataclass(frozen=True)
class Ruleset:
    id: str
    title: str
    version: int
    body: str
    target_level: str
    scmr: bool
    rules: tuple[Rule, ...]
    virtual_overlay: bool = False
    # The program applies the virtual overlay to a ruleset that does not (Level I or III) by opting in.
    overlay_opted_in: bool = False
    citations: dict = field(default_factory=dict, hash=False)
    mentor: dict | None = field(default=None, hash=False)  # {"min_level", "source", "confidence"}

    @property
    def label(self) -> str:
        return f"{self.id} v{self.version}"

    @property
    def mentor_min_level(self) -> str | None:
        return self.mentor["min_level"] if self.mentor else None

    @property
    def mentor_source(self) -> str | None:
        return self.mentor["source"] if self.mentor else None

    def with_overlay(self) -> "Ruleset":
        """The ruleset with the SCMR 2021 virtual overlay applied because the program opted in."""
        if self.virtual_overlay or not self.scmr:  # the overlay is SCMR's: another body's rulebook stays as it is
            return self
        return replace(self, virtual_overlay=True, overlay_opted_in=True)

    def used_sources(self) -> set[str]:
        """The citation keys a rule, the mentor rule or the overlay refers to."""
        used = {r.source for r in self.rules if r.source}
        if self.mentor:
            used.add(self.mentor["source"])
        if self.virtual_overlay:
            used.add(VIRTUAL_SOURCE)
        return used

    def citation(self, rule: Rule) -> str:
        return self.citations.get(rule.source, rule.source)


def _error_path(error: jsonschema.ValidationError) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".") or "(top)"


def _best_error(schema: dict, data: Any) -> jsonschema.ValidationError | None:
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(data))
    return jsonschema.exceptions.best_match(errors) if errors else None


def _rule_from(data: dict, *, local: bool = False) -> Rule:
    common = {"key", "kind", "label", "source", "confidence", "carried_forward", "cites"}
    return Rule(
        key=data["key"],
        kind=data["kind"],
        label=data["label"],
        params={k: v for k, v in data.items() if k not in common},
        source=data.get("source", ""),
        confidence=data.get("confidence", ""),
        carried_forward=data.get("carried_forward", False),
        local=local,
        cites=data.get("cites", ""),
    )


def parse_ruleset(data: Any, *, origin: str = "ruleset") -> Ruleset:
    error = _best_error(RULESET_SCHEMA, data)
    if error is not None:
        raise RulesetError(f"{origin}: {_error_path(error)}: {error.message}")
    keys = [r["key"] for r in data["requirements"]]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise RulesetError(f"{origin}: requirement keys must be unique; repeated: {', '.join(duplicates)}")
    citations = data.get("citations", {})
    sources = {r["source"] for r in data["requirements"] if r.get("source")}
    if data.get("mentor"):
        sources.add(data["mentor"]["source"])
    unknown = sorted(sources - set(citations))
    if unknown:
        raise RulesetError(f"{origin}: sources without a citation: {', '.join(unknown)}")
    return Ruleset(
        id=data["id"],
        title=data["title"],
        version=data["version"],
        body=data["body"],
        target_level=str(data["target_level"]),
        scmr=data["scmr"],
        virtual_overlay=data.get("virtual_overlay", False),
        citations=citations,
        mentor=data.get("mentor"),
        rules=tuple(_rule_from(r) for r in data["requirements"]),
    )


class _StrictLoader(yaml.SafeLoader):
    """A repeated key would silently replace a threshold: refuse it."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} appears twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: Path) -> Any:
    """A data file (ruleset, competency framework): safe YAML that refuses a repeated key."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506 - a SafeLoader


def load_ruleset(path: Path) -> Ruleset:
    try:
        data = load_yaml(path)
    except yaml.YAMLError as exc:
        raise RulesetError(f"{path.name}: not valid YAML: {exc}") from exc
    ruleset = parse_ruleset(data, origin=path.name)
    if ruleset.id != path.stem:
        raise RulesetError(f"{path.name}: id {ruleset.id!r} must match the file name")
    unused = sorted(set(ruleset.citations) - ruleset.used_sources())
    if unused:
        raise RulesetError(f"{path.name}: citations no rule uses: {', '.join(unused)}")
    for rule in ruleset.rules:
        if not (rule.source and rule.cites and rule.confidence):
            raise RulesetError(f"{path.name}: requirement {rule.key!r} needs a source, what it cites and a confidence")
    return ruleset


@cache
def _all_rulesets() -> dict[str, Ruleset]:
    return {r.id: r for r in (load_ruleset(p) for p in sorted(RULESET_DIR.glob("*.yaml")))}


def list_rulesets() -> list[Ruleset]:
    return list(_all_rulesets().values())


def get_ruleset(ruleset_id: str) -> Ruleset:
    try:
        return _all_rulesets()[ruleset_id]
    except KeyError:
        raise RulesetError(f"unknown ruleset {ruleset_id!r}; known: {', '.join(_all_rulesets())}") from None


# What "stricter" means per kind: the parameter that must not go down (or up, for maxima).
_STRICTNESS = {
    "min_duration": ("months", 1),
    "min_cases": ("minimum", 1),
    "category_coverage": ("min_per_category", 1),
    "category_minimum": ("minimum", 1),
    "didactic_hours": ("hours", 1),
}


def merge_local_rules(ruleset: Ruleset, local_rules: list[dict]) -> Ruleset:
    """Add a program's local rules. New keys are added; a rule with an existing key replaces it only if it is at
    least as strict. For an SCMR ruleset a weaker rule is refused; for others it is refused too (a rulebook is a
    rulebook), so the message names the rule and the base value."""
    if not local_rules:
        return ruleset
    rules = {r.key: r for r in ruleset.rules}
    for index, data in enumerate(local_rules):
        error = _best_error(RULE_SCHEMA, data)
        if error is not None:
            raise RulesetError(f"local rule {index + 1}: {_error_path(error)}: {error.message}")
        rule = _rule_from(data, local=True)
        base = rules.get(rule.key)
        if base is not None:
            if base.kind != rule.kind:
                raise RulesetError(f"local rule {rule.key!r} must keep the kind {base.kind!r}")
            param, _ = _STRICTNESS.get(base.kind, (None, 1))
            if param is not None:
                new, old = rule.param(param, 1), base.param(param, 1)
                if new < old:
                    raise RulesetError(
                        f"local rule {rule.key!r} is weaker than {ruleset.label} ({param} {new} < {old}); "
                        "a program may only add stricter rules."
                    )
            _refuse_wider_filters(ruleset, base, rule)
            # Filters the local rule leaves out keep their base values.
            merged = {**base.params, **rule.params}
            rule = replace(
                base,
                params=merged,
                label=rule.label,
                local=True,
                source=rule.source or base.source,
                cites=rule.cites or base.cites,
                confidence=rule.confidence or base.confidence,
            )
        rules[rule.key] = rule
    return replace(ruleset, rules=tuple(rules.values()))


_LIST_FILTERS = ("roles_any", "delivery_in", "source_in", "categories_any", "diagnosis_groups_any", "sequences_any")


def _refuse_wider_filters(ruleset: Ruleset, base: Rule, local: Rule) -> None:
    """A local rule may count fewer entries than the base rule, never more."""
    for name in _LIST_FILTERS:
        if base.param(name) is not None and local.param(name) is not None:
            extra = sorted(set(local.param(name)) - set(base.param(name)))
            if extra:
                raise RulesetError(
                    f"local rule {local.key!r} widens {name} of {ruleset.label} with {', '.join(extra)}; "
                    "a program may only add stricter rules."
                )
    window, base_window = local.param("within_months"), base.param("within_months")
    if base_window is not None and window is not None and window > base_window:
        raise RulesetError(
            f"local rule {local.key!r} widens within_months of {ruleset.label} ({window} > {base_window})."
        )
    for name, weaker in (
        ("min_in_person", lambda new, old: new < old),
        ("max_virtual_share", lambda new, old: new > old),
    ):
        new, old = local.param(name), base.param(name)
        if new is not None and old is not None and weaker(new, old):
            raise RulesetError(f"local rule {local.key!r} relaxes {name} of {ruleset.label} ({new} instead of {old}).")
    topics, base_topics = local.param("lecture_topics"), base.param("lecture_topics")
    if topics is not None and set(topics) - set(base_topics or ()):
        extra = ", ".join(sorted(set(topics) - set(base_topics or ())))
        raise RulesetError(f"local rule {local.key!r} lets lectures cover more topics than {ruleset.label}: {extra}.")
    complete, base_complete = local.param("complete_study"), base.param("complete_study")
    if base_complete is not None and complete is not None and complete != base_complete:
        raise RulesetError(f"local rule {local.key!r} changes complete_study of {ruleset.label}.")
