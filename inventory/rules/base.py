"""What a rule is, and what it reports.

A rule module (one per rule in rules.md) defines `RULE = Rule(...)`: its slug, default severity, the
guideline it enforces in our words, remediation, its evidence key, the kinds it reads, and a
function from a snapshot's analysis context to `Hit`s.  A hit is one situation the rule found,
with the exposure paths that explain it; hits whose paths are all inside one tenant or from
platform workloads are kept as paths but raise no violation.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from inventory.analysis.paths import ExposurePath

if TYPE_CHECKING:
    from inventory.analysis.context import Context

SEVERITIES = ("info", "low", "medium", "high", "critical")

# Kinds several rules rest on (a rule's `reads`): unread, their findings are held open.
RBAC_KINDS = ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
NODE_ESCAPE_KINDS = (
    "Pod",
    "Namespace",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "TridentVolumePublication",
)
ARRAY_GATE_KINDS = ("PersistentVolume", "TridentBackend", "TridentVolume", "Node", "TridentNode")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


def worst(*severities: str) -> str:
    return max(severities, key=SEVERITY_RANK.__getitem__)


@dataclass
class Hit:
    """One situation a rule found in one snapshot, before it becomes (or continues) a finding."""

    identity: tuple[str, ...]  # the stable identities it is about: the fingerprint is rule + these
    severity: str
    title: str
    namespaces: list[str]  # the namespaces it is attributed to; [] means the cluster as a whole
    evidence: dict  # the facts of the rule's evidence key: a change here is a different situation
    paths: list[ExposurePath]
    objects: list[str]  # references of the objects that make it true (for "at least since")
    arrays: set[str] = field(default_factory=set)  # arrays whose records it rests on
    detail: str = ""  # why, in a sentence or two, beyond the rule's text
    violation: bool = True  # False: paths worth showing (inside a tenant, platform), no finding


@dataclass(frozen=True)
class Rule:
    slug: str
    severity: str  # the default; a hit may say worse or better as rules.md describes
    guideline: str  # what it enforces, in our words
    remediation: str
    evidence_key: str  # which facts make it a different situation (a suppression reopens on change)
    reads: tuple[str, ...]  # Kubernetes kinds it depends on: unread, its findings are not resolved
    evaluate: Callable[["Context"], Iterable[Hit]]
    reads_arrays: bool = False  # it also rests on array records (each hit names its arrays)
    attributed_to: str = ""  # whose data it concerns, in rules.md's words

    def __post_init__(self):
        assert self.severity in SEVERITIES, self.severity
