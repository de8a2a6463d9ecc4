"""What a rule is, and what it reports.

A rule module (one per rule in rules.md) defines `RULE = Rule(...)`: its slug, default severity, the
guideline it enforces in our words, remediation, its evidence key, the kinds it reads, and a
function from a snapshot's analysis context to `Hit`s.  A hit is one situation the rule found,
with the exposure paths that explain it; hits whose paths are all inside one tenant or from
platform workloads are kept as paths but raise no violation.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exposure.analysis.hits import Hit
from inventory.constants import ACCESS_RECORDS, ARRAY_RECORDS, SEVERITIES, SEVERITY_RANK
from inventory.field_changes import field_change, kind_reached

if TYPE_CHECKING:
    from exposure.analysis.context import Context


# Kinds several rules rest on (a rule's `reads`): unread, their findings are held open.
RBAC_KINDS = ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
NODE_ESCAPE_KINDS = (
    "Pod",
    "Namespace",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "TridentVolumePublication",
    "Node",
)
# The kinds the join picks a volume's array records by (arrays/join.py).
ARRAY_GATE_KINDS = (
    "PersistentVolume",
    "PersistentVolumeClaim",
    "TridentBackend",
    "TridentBackendConfig",
    "TridentVolume",
    "Node",
    "TridentNode",
)
# Who is who, which every rule's context rests on (exposure/analysis/context.py): the namespaces'
# tenants and owners, and which namespace is Trident's (from its version, backends or nodes).
CONTEXT_KINDS = ("Namespace", "TridentVersion", "TridentBackend", "TridentNode")


def worst(*severities: str) -> str:
    return max(severities, key=SEVERITY_RANK.__getitem__)


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
    # Kinds of its `reads` whose objects bear only on its hits about their own namespace (a
    # Namespace object: on its own name's), each hit being about one namespace: a change to these
    # kinds only re-judges the namespaces it touched (`namespaces_to_judge`; tests/test_namespace_local.py
    # checks that judging some namespaces finds exactly what judging all finds there).
    namespace_local: tuple[str, ...] = ()

    def __post_init__(self):
        assert self.severity in SEVERITIES, self.severity
        assert set(self.namespace_local) <= set(self.reads), self.namespace_local

    @property
    def inputs(self) -> frozenset[str]:
        """What its hits are a function of, besides the admin's settings: its kinds, who is who, and
        for a rule on array records the kinds the join picks them by, the records and the access
        records derived from them (tests/test_rule_inputs.py checks that a rule reads nothing else)."""
        on_arrays = (*ARRAY_GATE_KINDS, ARRAY_RECORDS, ACCESS_RECORDS) if self.reads_arrays else ()
        return frozenset((*self.reads, *CONTEXT_KINDS, *on_arrays))

    def reads_field(self, kind: str, root: str) -> bool:
        """Whether its hits may depend on field `root` of `kind` (inventory/field_changes.py)."""
        return bool(kind_reached(field_change(kind, root), self.inputs, self.slug))

    def changed_by(self, changes: frozenset[str]) -> bool:
        """Whether a change set (kinds, array and access records, fields of a kind) touches its inputs."""
        return any(kind_reached(change, self.inputs, self.slug) for change in changes)

    def namespaces_to_judge(
        self, changes: frozenset[str], touched: dict[str, frozenset[str]]
    ) -> frozenset[str] | None:
        """The namespaces to judge again when `changes` touch its inputs only through its
        namespace-local kinds, `touched` giving the namespaces each kind's writes touched; None when
        some change reaches it otherwise (it is judged whole)."""
        namespaces: set[str] = set()
        inputs = self.inputs
        for kind in filter(None, (kind_reached(change, inputs, self.slug) for change in changes)):
            if kind not in self.namespace_local or kind not in touched:
                return None
            namespaces |= touched[kind]
        return frozenset(namespaces)
