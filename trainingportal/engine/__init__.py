"""The requirement engine (SPEC section 4): versioned rulesets (data) + facts about one enrollment → a Report.

`evaluate(facts, ruleset, today=...)` is pure: no ORM, no clock. Dashboards, the API and the dossier all use it.
"""

from .evaluate import Report, RequirementResult, evaluate
from .facts import EntryFact, Facts, LectureFact, ProgramFacts, SessionFact, SignOffFact
from .rulesets import (
    Rule,
    Ruleset,
    RulesetError,
    get_ruleset,
    list_rulesets,
    load_ruleset,
    load_yaml,
    merge_local_rules,
)

__all__ = [
    "EntryFact",
    "Facts",
    "LectureFact",
    "ProgramFacts",
    "Report",
    "RequirementResult",
    "Rule",
    "Ruleset",
    "RulesetError",
    "SessionFact",
    "SignOffFact",
    "evaluate",
    "get_ruleset",
    "list_rulesets",
    "load_ruleset",
    "load_yaml",
    "merge_local_rules",
]
