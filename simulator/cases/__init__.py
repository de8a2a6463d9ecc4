"""The Kubernetes-side situations each rule in rules.md must find, and near misses it must not.

Every case is recorded in a manifest `{slug: {"fires": [...], "near_misses": [...]}}`; an
entry names the namespace, the objects (`Kind/namespace/name`, or `Kind/name` when
cluster-scoped) and why.  Entries with `"pending": "array"` need the storage-array side a
later issue adds; `"dangling"` lists references that deliberately point at nothing.
Cases live in the first eight namespaces (tenants acme, globex, initech, umbrella and the
tenant-less sandbox-jdoe), at every scale.
"""

from simulator.cases import backends, network, pods, rbac, storage
from simulator.cases.manifest import Cases, ref
from simulator.cases.transient import (
    STORY_TRANSIENT_RULES,
    flexgroup_export_widened,
    storage_automation_grants,
    transient_privileged_pod,
    widen_trident_readers,
)

__all__ = [
    "STORY_TRANSIENT_RULES",
    "Cases",
    "flexgroup_export_widened",
    "ref",
    "seed",
    "storage_automation_grants",
    "transient_privileged_pod",
    "widen_trident_readers",
]


def seed(sim) -> Cases:
    cases = Cases()
    for topic in (storage, pods, backends, network, rbac):
        topic.seed(sim, cases)
    return cases
