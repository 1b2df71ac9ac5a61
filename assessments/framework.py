"""Competency frameworks as versioned data (assessments/frameworks/<id>.v<version>.yaml), like the rulesets.

A framework lists the competencies a mentor or the program director signs off, the delivery each one's evidence
needs (`in_person` or `any`), what each rests on, and the entrustment scale with the level at which a sign-off says
"independent". The files are the source of truth; `sync_frameworks` writes their rows (Competency) after every
`migrate`, so sign-offs can point at them. A released file is never edited: a change is a new version.
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jsonschema
import yaml

from trainingportal.engine import load_yaml

FRAMEWORK_DIR = Path(__file__).resolve().parent / "frameworks"
# The framework new sign-offs are made in: its highest version.
CURRENT = "scmr-level-2"

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "version", "title", "citations", "entrustment", "competencies"],
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z0-9-]+$"},
        "version": {"type": "integer", "minimum": 1},
        "title": {"type": "string", "minLength": 1},
        "citations": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}},
        "entrustment": {
            "type": "object",
            "additionalProperties": False,
            "required": ["source", "sign_off_level", "levels"],
            "properties": {
                "source": {"type": "string"},
                "sign_off_level": {"type": "integer", "minimum": 1},
                "levels": {
                    "type": "object",
                    "minProperties": 2,
                    "additionalProperties": {"type": "string", "minLength": 1},
                },
            },
        },
        "competencies": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "title", "delivery", "source", "cites"],
                "properties": {
                    "code": {"type": "string", "pattern": "^[a-z0-9-]+$", "maxLength": 60},
                    "title": {"type": "string", "minLength": 1, "maxLength": 200},
                    "delivery": {"enum": ["in_person", "any"]},
                    "source": {"type": "string"},
                    "cites": {"type": "string", "minLength": 1},
                },
            },
        },
    },
}


class FrameworkError(ValueError):
    pass


@dataclass(frozen=True)
class CompetencyDef:
    code: str
    title: str
    delivery: str
    source: str
    cites: str
    position: int

    @property
    def in_person_required(self) -> bool:
        return self.delivery == "in_person"


@dataclass(frozen=True)
class Framework:
    id: str
    version: int
    title: str
    citations: dict
    sign_off_level: int
    levels: tuple[tuple[int, str], ...]
    scale_source: str
    competencies: tuple[CompetencyDef, ...]

    @property
    def label(self) -> str:
        return f"{self.title} (v{self.version})"

    def level_label(self, level: int) -> str:
        return dict(self.levels).get(level, f"Level {level}")

    def citation(self, source: str) -> str:
        return self.citations.get(source, source)


def parse_framework(data, *, origin: str = "framework") -> Framework:
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(SCHEMA).iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise FrameworkError(f"{origin}: {where}: {error.message}")
    try:
        levels = tuple(sorted((int(k), v) for k, v in data["entrustment"]["levels"].items()))
    except ValueError as exc:
        raise FrameworkError(f"{origin}: entrustment levels must be numbered") from exc
    if [n for n, _ in levels] != list(range(1, len(levels) + 1)):
        raise FrameworkError(f"{origin}: entrustment levels must be numbered 1..n")
    if data["entrustment"]["sign_off_level"] > len(levels):
        raise FrameworkError(f"{origin}: sign_off_level is above the scale")
    competencies = tuple(
        CompetencyDef(c["code"], c["title"], c["delivery"], c["source"], c["cites"], position)
        for position, c in enumerate(data["competencies"], start=1)
    )
    codes = [c.code for c in competencies]
    if len(set(codes)) != len(codes):
        raise FrameworkError(f"{origin}: a competency code appears twice")
    used = {c.source for c in competencies} | {data["entrustment"]["source"]}
    unknown = sorted(used - set(data["citations"]))
    if unknown:
        raise FrameworkError(f"{origin}: sources without a citation: {', '.join(unknown)}")
    unused = sorted(set(data["citations"]) - used)
    if unused:
        raise FrameworkError(f"{origin}: citations nothing uses: {', '.join(unused)}")
    return Framework(
        id=data["id"],
        version=data["version"],
        title=data["title"],
        citations=dict(data["citations"]),
        sign_off_level=data["entrustment"]["sign_off_level"],
        levels=levels,
        scale_source=data["entrustment"]["source"],
        competencies=competencies,
    )


def load_framework(path: Path) -> Framework:
    try:
        data = load_yaml(path)
    except yaml.YAMLError as exc:
        raise FrameworkError(f"{path.name}: not valid YAML: {exc}") from exc
    framework = parse_framework(data, origin=path.name)
    if path.name != f"{framework.id}.v{framework.version}.yaml":
        raise FrameworkError(f"{path.name}: the file must be named {framework.id}.v{framework.version}.yaml")
    return framework


@cache
def all_frameworks() -> dict[tuple[str, int], Framework]:
    return {(f.id, f.version): f for f in (load_framework(p) for p in sorted(FRAMEWORK_DIR.glob("*.yaml")))}


def get_framework(framework_id: str, version: int) -> Framework:
    try:
        return all_frameworks()[(framework_id, version)]
    except KeyError:
        raise FrameworkError(f"unknown framework {framework_id} v{version}") from None


def current_framework() -> Framework:
    versions = [f for (fid, _), f in all_frameworks().items() if fid == CURRENT]
    if not versions:
        raise FrameworkError(f"no file for the framework {CURRENT}")
    return max(versions, key=lambda f: f.version)
