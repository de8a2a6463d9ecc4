"""Exposure paths: who (an actor) reaches which data, through which objects, with what access.

A path is the unit every view shows and every finding is explained by.  It refers to objects
only by reference, in one form throughout:

- Kubernetes objects: `Kind/namespace/name`, or `Kind/name` when cluster-scoped (the case
  manifest's form);
- array records: `array:<array>/<stored kind>/<record key>` (e.g.
  `array:ontap-a/ontap.ExportPolicy/svm_k8s/default`).

`refers_to_snapshot` in tests checks that every reference names an object of the snapshot.
"""

from dataclasses import dataclass, field

import orjson

ACCESS_LEVELS = ("metadata", "read", "write", "root")


@dataclass(frozen=True)
class Actor:
    kind: str  # outside-host | pod | workload | subject | any-namespace | node
    identity: str  # e.g. "10.0.0.0/8", "Deployment acme-web/api", "Group storage-team"
    tenant: str  # the actor's tenant, OUTSIDE or EVERYONE
    platform: bool = False  # a platform workload or identity: shown, never a violation


@dataclass(frozen=True)
class Hop:
    ref: str  # the object that carries this step (see the module docstring)
    via: str  # the field or fact that carries it: "spec.hostNetwork", "rule 1 clients 0.0.0.0/0"


@dataclass
class ExposurePath:
    actor: Actor
    hops: list[Hop]
    data: list[str]  # the data reached, outermost last: PVC, PV, array object
    namespace: str  # whose data it is ("" when cluster-wide, e.g. every PV's metadata)
    access: str  # one of ACCESS_LEVELS
    rule: str  # the rule that judges this path
    severity: str  # what the rule says it is worth (info when inside the tenant or platform)
    mitigations: list[str] = field(default_factory=list)  # considered: a blocking policy, root squash…
    inside_tenant: bool = False  # the actor is in the data's own tenant
    platform: bool = False  # the actor is a platform workload or identity

    @property
    def raises_violation(self) -> bool:
        return not (self.inside_tenant or self.platform) and self.severity != "info"

    def refs(self) -> list[str]:
        return [hop.ref for hop in self.hops] + list(self.data)

    def as_dict(self) -> dict:
        # orjson serialises dataclasses natively, many times faster than dataclasses.asdict's deep copy.
        return orjson.loads(orjson.dumps(self))
