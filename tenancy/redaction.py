"""What a non-admin reader is shown of paths and findings that reach beyond their namespaces.

The rule (admins see everything unchanged):

- Paths: only those into data of a namespace the reader sees.  An object of a namespace they do not
  see is named by its kind only ("a Pod of another tenant"), with the mechanism (the field that
  carries the step) but no names; an actor of another tenant is "a workload of another tenant";
  cluster-level objects (nodes, array export policies and LIFs) stay named: they are the shared
  infrastructure the path goes through, and naming them is what makes the path actionable.
- Findings: the namespaces list keeps the reader's own; the paths as above; counts cover what is
  shown.  A finding that involves a namespace the reader does not see has its rule-written title,
  detail and evidence (free text that names the other side) replaced by a text made from its rule
  and the reader's own namespaces.
- Free text that stays (a hop's mechanism) is scrubbed of `Kind/namespace/name`, `Kind namespace/name`
  and `namespace/name` references to namespaces the reader does not see.
- Free text a source or the analysis wrote (why a kind or an array was not read, why a rule failed)
  may quote any name: it is scrubbed the same way, and every name of a namespace the reader does not
  see, or of a tenant not theirs, is replaced wherever it stands.

Every function takes the reader's `Scope`: nothing is redacted for a reader nobody named.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from inventory.refs import EVERYONE, OUTSIDE, parse_ref
from tenancy.boundaries import SOLO_PREFIX
from tenancy.scope import Scope

ANOTHER_TENANT = "another tenant"
# `Kind/ns/name`, `Kind ns/name` or `ns/name`; namespace and name as Kubernetes spells them.
NAMESPACED_TEXT = re.compile(r"(?:\b([A-Z][A-Za-z]+)[ /])?\b([a-z0-9][a-z0-9.-]*)/([\w.:-]+)")
MECHANISM = re.compile(r"[A-Za-z][\w.\[\]-]*")  # the field a hop goes through, before any names


@dataclass(frozen=True)
class Reader:
    """A scope applied to one cluster: which namespaces and tenants are the reader's own."""

    scope: Scope
    cluster_id: int
    tenants: frozenset[str] = frozenset()  # the tenants of the namespaces the reader sees

    @classmethod
    def of(cls, scope: Scope, cluster_id: int, namespace_tenants: dict[str, str]) -> "Reader":
        visible = scope.visible_in(cluster_id)
        return cls(scope, cluster_id, frozenset(namespace_tenants.get(n, "") for n in visible) - {""})

    @property
    def admin(self) -> bool:
        return self.scope.admin

    def sees(self, namespace: str) -> bool:
        return self.scope.sees(self.cluster_id, namespace)

    def own_actor(self, tenant: str) -> bool:
        return tenant in self.tenants or tenant in (OUTSIDE, EVERYONE)


def scrub(text: str, reader: Reader) -> str:
    """`text` with every reference to a namespace the reader does not see replaced by its kind."""
    if reader.admin or not text:
        return text

    def replace(match: re.Match) -> str:
        kind, namespace, _name = match.groups()
        if reader.sees(namespace):
            return match.group(0)
        return f"a {kind} of {ANOTHER_TENANT}" if kind else f"an object of {ANOTHER_TENANT}"

    return NAMESPACED_TEXT.sub(replace, text)


def source_text_scrubber(reader: Reader, namespace_tenants: Mapping[str, str]) -> Callable[[str], str]:
    """For free text from a source or the analysis, which may quote any name: `scrub`, then every
    name of a namespace of the cluster (`namespace_tenants`: each namespace's tenant) the reader does
    not see, and of a tenant not theirs, replaced wherever it stands as a whole word."""
    if reader.admin:
        return lambda text: text
    own = reader.scope.visible_in(reader.cluster_id) | reader.tenants
    hidden = {name for name in namespace_tenants if not reader.sees(name)}
    hidden |= {t for t in namespace_tenants.values() if t and not t.startswith(SOLO_PREFIX)}
    hidden = {name for name in hidden - own if name}
    if not hidden:
        return lambda text: scrub(text, reader)
    names = "|".join(re.escape(name) for name in sorted(hidden, key=len, reverse=True))
    # A whole name: not part of a longer one (`beta` in `beta-app`), a sentence's full stop allowed.
    pattern = re.compile(rf"(?<![\w.-])(?:{names})(?![\w-]|\.\w)")

    def scrubbed(text: str) -> str:
        return pattern.sub(f"(a name of {ANOTHER_TENANT})", scrub(text, reader)) if text else text

    return scrubbed


def redact_subject(key: str, reader: Reader) -> str:
    """An RBAC subject key (`User:x`, `ServiceAccount:ns:name`): a service account of a namespace the
    reader does not see is named by its kind only."""
    kind, _, rest = key.partition(":")
    if kind == "ServiceAccount" and not reader.admin:
        namespace = rest.partition(":")[0]
        if not reader.sees(namespace):
            return f"a ServiceAccount of {ANOTHER_TENANT}"
    return key


def _namespace_of(ref: str) -> str:
    """The namespace an object belongs to: a Namespace is its own (it is cluster-scoped); array
    records and other cluster-scoped objects belong to none ("")."""
    scope, kind, namespace, name = parse_ref(ref)
    if scope:
        return ""
    return name if kind == "Namespace" and not namespace else namespace


def _hidden_ref(ref: str, reader: Reader) -> bool:
    """An object of a namespace the reader does not see, or such a Namespace itself."""
    namespace = _namespace_of(ref)
    return bool(namespace) and not reader.sees(namespace)


def redact_path(path: dict, reader: Reader) -> dict:
    """One stored path (ExposurePath.as_dict) as the reader may see it."""
    if reader.admin:
        return path
    actor = dict(path["actor"])
    if not reader.own_actor(actor.get("tenant", "")):
        actor["identity"] = f"a {actor.get('kind', 'party')} of {ANOTHER_TENANT}"
        actor["tenant"] = ANOTHER_TENANT
    hops = []
    for hop in path.get("hops") or []:
        if _hidden_ref(hop["ref"], reader):
            mechanism = MECHANISM.match(hop.get("via") or "")
            hops.append(
                {
                    "ref": f"{parse_ref(hop['ref'])[1]} of {ANOTHER_TENANT}",
                    "via": scrub(mechanism.group(0), reader) if mechanism else "",
                }
            )
        else:
            hops.append({"ref": hop["ref"], "via": scrub(hop.get("via") or "", reader)})
    data = [
        f"{parse_ref(ref)[1]} of {ANOTHER_TENANT}" if _hidden_ref(ref, reader) else ref
        for ref in path.get("data") or []
    ]
    mitigations = [scrub(m, reader) for m in path.get("mitigations") or []]
    return {**path, "actor": actor, "hops": hops, "data": data, "mitigations": mitigations}


def visible_paths(paths: list[dict], reader: Reader) -> list[dict]:
    """The paths into data the reader sees, redacted."""
    if reader.admin:
        return paths
    return [redact_path(p, reader) for p in paths if reader.sees(p.get("namespace", ""))]


def _involves_hidden(finding: dict, reader: Reader) -> bool:
    namespaces = set(finding.get("namespaces") or [])
    for ref in finding.get("refs") or []:
        namespaces.add(_namespace_of(ref))
    for path in finding.get("paths") or []:
        namespaces.add(path.get("namespace", ""))
    return any(n and not reader.sees(n) for n in namespaces)


def redact_finding(finding: dict, reader: Reader) -> dict:
    """A finding summary (exposure.findings.summary) as the reader may see it."""
    if reader.admin:
        return finding
    own = [n for n in finding.get("namespaces") or [] if reader.sees(n)]
    paths = visible_paths(finding.get("paths") or [], reader)
    redacted = {**finding, "namespaces": own, "paths": paths, "path_count": len(paths)}
    redacted.pop("refs", None)
    if _involves_hidden(finding, reader):
        redacted.update(
            title=f"{finding['rule']} in {', '.join(own)}, involving namespaces of {ANOTHER_TENANT}",
            detail="",
            evidence={},
            redacted=True,
        )
    return redacted


def redact_event(detail: dict, reader: Reader, finding_redacted: bool) -> dict:
    """A finding event's detail (exposure.models.FindingEvent) as the reader may see it: the evidence
    and an admin's free-text reason only when the finding itself is shown unredacted; other texts
    (why it resolved, dates) scrubbed of the other tenant's names; anything else dropped."""
    if reader.admin:
        return detail
    shown = {}
    for key, value in (detail or {}).items():
        if key in ("evidence", "reason"):
            if not finding_redacted:
                shown[key] = scrub(value, reader) if isinstance(value, str) else value
        elif isinstance(value, str):
            shown[key] = scrub(value, reader)
    return shown
