"""Plain data the engine evaluates. Built by progress.selectors.gather_facts*, or by hand in tests."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import NamedTuple

# The trainee's roles on an entry (cases.models.CaseLogEntry.ROLE_FIELDS). Performing the scan means operating the
# scanner: as the primary operator or assisting at the console (SCMR 2018). Observation — in the room or remotely —
# is reported but never counts as performed.
PERFORMED_ROLES = frozenset({"primary_operator", "assisted_console"})
OBSERVED_ROLES = frozenset({"observed_in_room", "observed_remotely"})
ROLES = (
    "primary_operator",
    "assisted_console",
    "observed_in_room",
    "observed_remotely",
    "interpreted",
    "preliminary_report",
    "protocolled",
    "post_processed",
)
# Involvement in the acquisition: virtually, it counts only with the scanner console shared (SCMR 2021, S5).
ACQUISITION_ROLES = PERFORMED_ROLES | OBSERVED_ROLES
IN_PERSON = "in_person"
VIRTUAL_LIVE = "virtual_live_two_way"

# Why an entry is left out of a requirement (the report lists them as "not counted"): the signing mentor's level is
# below the ruleset's minimum; and, under the virtual overlay, a virtual live entry without an attended session, or
# virtual acquisition without the console shared and the trainee's input.
LOW_MENTOR = "signed by a mentor below the ruleset's minimum level (or with no CMR credential recorded)"
NOT_LINKED = "virtual live entry not linked to a session of the program that the trainee attended"
NO_CONSOLE = "virtual acquisition without the scanner console shared and the trainee's input recorded"
OVER_VIRTUAL_SHARE = "virtual entries beyond the share of the minimum that virtual experience may replace"

# CMR qualification levels (accounts.Credential.Level), ranked for "at least level X". An Advanced Practitioner and
# an equivalent CMR expert (with a written justification) rank with Level III: SCMR 2021 names all three as those who
# may lead a virtual program.
LEVEL_RANK = {"I": 1, "II": 2, "III": 3, "AP": 3, "EQ": 3}


def levels_at_least(level: str) -> frozenset[str]:
    return frozenset(name for name, rank in LEVEL_RANK.items() if rank >= LEVEL_RANK[level])


class EntryFact(NamedTuple):
    """A signed case-log entry. A NamedTuple, not a dataclass: a director's dashboard builds ~15,000 of them."""

    id: int
    date: date
    roles: frozenset[str]
    delivery: str  # in_person | virtual_live_two_way | asynchronous
    source: str = "center_archive"
    complete_study: bool = True
    categories: frozenset[str] = frozenset()
    session_type: str | None = None
    console_shared: bool = False
    # The linked session belongs to the entry's program and the trainee's attendance is recorded (with their input).
    attended: bool = False
    active_input: bool = False
    # The highest CMR level the signing mentor holds on record; None when they have no credential recorded.
    signer_level: str | None = None
    diagnosis_group: str = ""  # the group of the case's structured diagnosis (curriculum.cmr), "" if none
    sequences: frozenset[str] = frozenset()  # sequence codes of the study (curriculum.cmr.SEQUENCES)

    def signed_at_least(self, level: str | None) -> bool:
        """The signer holds at least `level` (always true when the ruleset sets no minimum)."""
        if level is None:
            return True
        return self.signer_level is not None and LEVEL_RANK[self.signer_level] >= LEVEL_RANK[level]

    @property
    def is_virtual(self) -> bool:
        return self.delivery != IN_PERSON

    @property
    def unlinked_virtual_live(self) -> bool:
        """Virtual live experience counts only "provided there is active participation between the trainee and the
        mentor" (SCMR 2021): from a session of the program the trainee attended."""
        return self.delivery == VIRTUAL_LIVE and not self.attended

    @property
    def observed_only(self) -> bool:
        """The trainee watched the acquisition but did not operate the scanner."""
        return bool(self.roles & OBSERVED_ROLES) and not self.roles & PERFORMED_ROLES

    @property
    def virtual_acquisition_without_console(self) -> bool:
        """Virtual acquisition counts only from an attended live acquisition session with the scanner console shared
        ("the trainee must be able to visualize the control console") and the trainee's input recorded ("provide
        input with sequence selection and modification/troubleshooting")."""
        return (
            bool(self.roles & ACQUISITION_ROLES)
            and self.is_virtual
            and not (
                self.session_type == "live_acquisition" and self.console_shared and self.attended and self.active_input
            )
        )


@dataclass(frozen=True)
class SessionFact:
    """A training session the trainee attended."""

    id: int
    type: str
    delivery: str
    date: date
    minutes: int
    mentor_id: int
    attendees: int  # trainees attending with this session's mentor
    console_shared: bool = False
    active_input: bool = False

    @property
    def is_didactic(self) -> bool:
        return self.type in ("didactic_live", "didactic_recorded")


class LectureFact(NamedTuple):
    """A lecture of the library the trainee completed (recorded lectures are marked done by the trainee)."""

    id: int
    date: date
    hours: float
    topic: str = ""


@dataclass(frozen=True)
class SignOffFact:
    competency: str
    delivery: str  # in_person | virtual
    date: date
    in_person_required: bool = False
    # At or above the framework's sign-off level (independent practice); a lower level is progress, not a sign-off.
    entrusted: bool = True


@dataclass(frozen=True)
class ProgramFacts:
    mode: str = "hybrid"
    max_virtual_share: int = 50
    interactive_group_cap: int = 4


@dataclass(frozen=True)
class Tallies:
    """Counts of signed entries, as the rules need them. The engine computes them from `Facts.entries`
    (engine.evaluate.tally_entries); for a whole program the database computes the same numbers
    (progress.selectors.gather_tallied_facts_for), so that a 50-trainee table does not read 15,000 entries."""

    rule_counts: dict[str, int] = field(default_factory=dict)  # min_cases rule key -> counted entries
    rule_recent: dict[str, int] = field(default_factory=dict)  # ... of which in the pace window
    categories: dict[str, int] = field(default_factory=dict)  # topic slug -> entries
    total: int = 0
    virtual: int = 0
    virtual_without_console: int = 0
    observed_only: int = 0  # entries where the trainee watched the acquisition without operating the scanner
    # min_cases rule key -> entries the rule leaves out only because the study was incomplete
    incomplete: dict[str, int] = field(default_factory=dict)
    # min_cases rule key -> {reason (LOW_MENTOR, NOT_LINKED, NO_CONSOLE): entries left out for it}
    excluded: dict[str, dict[str, int]] = field(default_factory=dict)
    rule_in_person: dict[str, int] = field(default_factory=dict)  # min_cases rule key -> counted entries in person
    rule_recent_in_person: dict[str, int] = field(default_factory=dict)  # ... of which in the pace window
    recent: int = 0
    weekly: tuple[int, ...] = ()  # last 12 weeks, oldest first
    # Entry ids per rule key, and per "topic:<slug>"; empty when counted by the database.
    evidence: dict[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Facts:
    enrollment_id: int
    start_date: date
    end_date: date | None = None
    status: str = "active"
    fte_fraction: Decimal = Decimal(1)
    carried_forward_cases: int = 0
    carried_forward_months: Decimal = Decimal(0)
    leave: tuple[tuple[date, date], ...] = ()
    entries: tuple[EntryFact, ...] = ()
    pending_reviews: int = 0
    reviews_waiting_over_7_days: int = 0
    drafts: int = 0
    sessions: tuple[SessionFact, ...] = ()
    lectures: tuple[LectureFact, ...] = ()
    sign_offs: tuple[SignOffFact, ...] = ()
    program: ProgramFacts = field(default_factory=ProgramFacts)
    # The mentor's lower virtual share for this trainee (SCMR 2021: it "can vary depending on ... the competency of
    # the individual trainee as evaluated by the CMR mentor"); never above the program's. None: the program's.
    trainee_max_virtual_share: int | None = None
    # (code, title) of the framework's competencies that need in-person experience (SCMR 2021: "stress testing and
    # supervision of individuals with cardiac implantable electronic devices may require an in-person experience").
    in_person_competencies: tuple[tuple[str, str], ...] = ()
    # Codes of those the mentor recorded, with a reason, as covered by the trainee's prior experience.
    prior_experience: frozenset[str] = frozenset()
    # (slug, name) of the curriculum topics; empty means the built-in SCMR list (engine.evaluate.CURRICULUM).
    curriculum: tuple[tuple[str, str], ...] = ()
    # Pre-computed counts instead of `entries` (see Tallies); None means "count the entries".
    tallies: Tallies | None = None
