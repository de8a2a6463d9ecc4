"""What a rule reports: a `Hit`.  Here, below the rules, because shared judgements the rules build
on (analysis/node_escape.py) make hits too: the analysis never imports the rules.
"""

from dataclasses import dataclass, field

from exposure.analysis.paths import ExposurePath


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
    # True: its actor reaches every namespace by the nature of the grant itself (a cluster-scoped
    # resource, a power bound cluster-wide or in a platform namespace), whatever namespaces exist
    # now.  Such a finding is graded as the cluster's, not as each namespace's (exposure/grades.py);
    # it stays attributed to every namespace it reaches, so their readers still see it.
    cluster_wide: bool = False
