"""What a non-admin reader is shown of paths and findings that reach beyond their namespaces.

The rule (admins see everything unchanged):

- Paths: only those into data of a namespace the reader sees.  An object of a namespace they do not
  see is named by its kind only ("a Pod of another tenant"), with the mechanism (the field that
  carries the step) but no names; an actor of another tenant is "a workload of another tenant";
  cluster-level objects (nodes, array export policies and LIFs) stay named: they are the shared
  infrastructure the path goes through, and naming them is what makes the path actionable.
- Volumes are data, not infrastructure: a PersistentVolume is its claim's namespace's, and an array
  object that holds a volume's data (inventory.constants.ARRAY_DATA_KINDS) is its users'.  Both are
  named only when they are the reader's own (`Reader.own_volumes`: the PVs ever claimed in a
  namespace the reader sees and the array objects behind them, and the PVs no namespace claims now,
  which are the cluster's) or the data of a path shown to them (a path's data is its namespace's);
  any other, another tenant's or one nobody knows any more, is "a PersistentVolume of another
  tenant".
- Findings: the namespaces list keeps the reader's own; the paths as above; counts cover what is
  shown.  A finding that involves a namespace the reader does not see, or another tenant's volume,
  has its rule-written title, detail and evidence (free text that names the other side) replaced by
  a text made from its rule and the reader's own namespaces.
- Free text that stays (a hop's mechanism) is scrubbed of `Kind/namespace/name`, `Kind namespace/name`
  and `namespace/name` references to namespaces the reader does not see, and of `PersistentVolume/name`
  (or `PersistentVolume name`) and `array:…` references to volumes that are not theirs.
- Free text a source or the analysis wrote (why a kind or an array was not read, why a rule failed)
  may quote any name: it is scrubbed the same way, and every name of a namespace the reader does not
  see, or of a tenant not theirs, is replaced wherever it stands.

Every function takes the reader's `Scope`: nothing is redacted for a reader nobody named.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from inventory.constants import ARRAY_DATA_KINDS
from inventory.refs import EVERYONE, OUTSIDE, k8s_ref, parse_ref
from tenancy.boundaries import SOLO_PREFIX
from tenancy.scope import Scope

ANOTHER_TENANT = "another tenant"
PERSISTENT_VOLUME = "PersistentVolume"
# References in free text, tried in this order at each position:
# - `array:<array>/<kind>/<key>` (keys may hold "/": `svm/volume/qtree`, `svm//vol/v/lun0`);
# - `PersistentVolume/name` or `PersistentVolume name` (cluster-scoped: no namespace part);
# - `Kind/ns/name`, `Kind ns/name` or `ns/name`; namespace and name as Kubernetes spells them (a
#   namespace is a DNS label: no dot, so an address block such as `192.0.2.0/24` is no reference).
TEXT_REFERENCE = re.compile(
    r"(?P<array>array:[\w.-]+/(?P<array_kind>[\w.]+)/[\w./@-]*[\w@-])"
    r"|(?P<pv>\bPersistentVolume[ /](?P<pv_name>[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?![\w/-])(?!\.\w))"
    r"|(?:\b(?P<kind>[A-Z][A-Za-z]+)[ /])?(?<![\w.])(?P<namespace>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)"
    r"/(?P<name>[\w.:-]+)"
)
MECHANISM = re.compile(r"[A-Za-z][\w.\[\]-]*")  # the field a hop goes through, before any names


@dataclass(frozen=True)
class Reader:
    """A scope applied to one cluster: which namespaces and tenants are the reader's own."""

    scope: Scope
    cluster_id: int
    tenants: frozenset[str] = frozenset()  # the tenants of the namespaces the reader sees
    # References (`PersistentVolume/name`, `array:…`) of the volumes that are the reader's own data or
    # the cluster's; empty (every volume hidden but a shown path's data) unless the caller read them.
    own_volumes: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        scope: Scope,
        cluster_id: int,
        namespace_tenants: dict[str, str],
        own_volumes: frozenset[str],
    ) -> "Reader":
        """`namespace_tenants`: namespace -> tenant; `own_volumes`: see the module docstring (both as of
        the cluster's latest visible snapshot; dashboard.queries.reader_for reads them)."""
        visible = scope.visible_in(cluster_id)
        tenants = frozenset(namespace_tenants.get(n, "") for n in visible) - {""}
        return cls(scope, cluster_id, tenants, frozenset(own_volumes))

    @property
    def admin(self) -> bool:
        return self.scope.admin

    def sees(self, namespace: str) -> bool:
        return self.scope.sees(self.cluster_id, namespace)

    def own_actor(self, tenant: str) -> bool:
        return tenant in self.tenants or tenant in (OUTSIDE, EVERYONE)


def _of_another_tenant(kind: str) -> str:
    return f"{'an' if kind[0] in 'aeiouAEIOU' else 'a'} {kind} of {ANOTHER_TENANT}"


def scrub(text: str, reader: Reader, shown_data: frozenset[str] = frozenset()) -> str:
    """`text` with every reference to a namespace the reader does not see, or to a volume that is not
    theirs, replaced by its kind.  `shown_data`: the data of the path the text belongs to."""
    if reader.admin or not text:
        return text

    def replace(match: re.Match) -> str:
        if match.group("array"):
            ref = match.group("array")
            hidden = _hidden_ref(ref, reader, shown_data)
            return _of_another_tenant(match.group("array_kind")) if hidden else ref
        if match.group("pv"):
            ref = k8s_ref(PERSISTENT_VOLUME, match.group("pv_name"))
            hidden = _hidden_ref(ref, reader, shown_data)
            return _of_another_tenant(PERSISTENT_VOLUME) if hidden else match.group(0)
        kind, namespace = match.group("kind"), match.group("namespace")
        if reader.sees(namespace):
            return match.group(0)
        return _of_another_tenant(kind or "object")

    return TEXT_REFERENCE.sub(replace, text)


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


# A page redacts the same references over and over (a node, a volume, each in hundreds of paths).
@lru_cache(maxsize=65536)
def _namespace_of(ref: str) -> str:
    """The namespace a namespaced object belongs to: a Namespace is its own (it is cluster-scoped);
    array records and other cluster-scoped objects belong to none ("")."""
    scope, kind, namespace, name = parse_ref(ref)
    if scope:
        return ""
    return name if kind == "Namespace" and not namespace else namespace


@lru_cache(maxsize=65536)
def _is_volume(ref: str) -> bool:
    """A PersistentVolume or an array object holding a volume's data: data whose owner is its users."""
    scope, kind, namespace, _name = parse_ref(ref)
    return kind in ARRAY_DATA_KINDS if scope else kind == PERSISTENT_VOLUME and not namespace


def _hidden_ref(ref: str, reader: Reader, shown_data: frozenset[str] = frozenset()) -> bool:
    """An object of a namespace the reader does not see (or such a Namespace itself), or a volume
    that is neither theirs (or the cluster's) nor in `shown_data` (the data of a path shown to them)."""
    if reader.admin:
        return False
    if _is_volume(ref):
        return ref not in reader.own_volumes and ref not in shown_data
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
    # The path's data is its namespace's (exposure/analysis/paths.py), which the reader sees.
    shown_data = frozenset(path.get("data") or [])
    hops = []
    for hop in path.get("hops") or []:
        if _hidden_ref(hop["ref"], reader, shown_data):
            mechanism = MECHANISM.match(hop.get("via") or "")
            hops.append(
                {
                    "ref": f"{parse_ref(hop['ref'])[1]} of {ANOTHER_TENANT}",
                    "via": scrub(mechanism.group(0), reader, shown_data) if mechanism else "",
                }
            )
        else:
            hops.append({"ref": hop["ref"], "via": scrub(hop.get("via") or "", reader, shown_data)})
    data = [
        f"{parse_ref(ref)[1]} of {ANOTHER_TENANT}" if _hidden_ref(ref, reader, shown_data) else ref
        for ref in path.get("data") or []
    ]
    mitigations = [scrub(m, reader, shown_data) for m in path.get("mitigations") or []]
    return {**path, "actor": actor, "hops": hops, "data": data, "mitigations": mitigations}


def visible_paths(paths: list[dict], reader: Reader) -> list[dict]:
    """The paths into data the reader sees, redacted."""
    if reader.admin:
        return paths
    return [redact_path(p, reader) for p in paths if reader.sees(p.get("namespace", ""))]


def _involves_hidden(finding: dict, reader: Reader) -> bool:
    """The finding names a namespace the reader does not see, an object of one, or a volume that is
    not theirs (their paths' data is theirs)."""
    paths = finding.get("paths") or []
    namespaces = set(finding.get("namespaces") or []) | {p.get("namespace", "") for p in paths}
    if namespaces - _visible(reader) - {""}:
        return True
    shown_data = frozenset(
        ref for p in paths if reader.sees(p.get("namespace", "")) for ref in p.get("data") or []
    )
    return any(_hidden_ref(ref, reader, shown_data) for ref in finding.get("refs") or [])


def _visible(reader: Reader) -> frozenset[str]:
    """The namespaces a (non-admin) reader sees: a cluster-wide finding names thousands of
    namespaces, each looked up in this set at once rather than through `reader.sees`."""
    return reader.scope.visible_in(reader.cluster_id)


def _own(namespaces: list[str] | None, reader: Reader) -> list[str]:
    visible = _visible(reader)
    return [n for n in namespaces or [] if n in visible]


def _hidden_title(rule: str, own: list[str]) -> str:
    return f"{rule} in {', '.join(own)}, involving namespaces of {ANOTHER_TENANT}"


def listed_finding(finding: dict, reader: Reader) -> dict:
    """What a list or an export shows of a finding (its namespaces, path count, title and detail) as
    the reader may see it: `redact_finding`'s values, from `rule`, `namespaces`, `path_count`,
    `title`, `detail`, `refs` and the paths' `namespace` and `data` only (no path is redacted whole)."""
    shown = {key: finding.get(key) for key in ("namespaces", "path_count", "title", "detail")}
    if reader.admin:
        return shown
    own = _own(finding.get("namespaces"), reader)
    shown.update(
        namespaces=own,
        path_count=sum(1 for p in finding.get("paths") or [] if reader.sees(p.get("namespace", ""))),
    )
    if _involves_hidden(finding, reader):
        shown.update(title=_hidden_title(finding["rule"], own), detail="")
    return shown


def redact_finding(finding: dict, reader: Reader) -> dict:
    """A finding summary (exposure.findings.summary) as the reader may see it."""
    if reader.admin:
        return finding
    own = _own(finding.get("namespaces"), reader)
    paths = visible_paths(finding.get("paths") or [], reader)
    redacted = {**finding, "namespaces": own, "paths": paths, "path_count": len(paths)}
    redacted.pop("refs", None)
    hidden = _involves_hidden(finding, reader)
    if hidden:
        redacted.update(title=_hidden_title(finding["rule"], own), detail="", evidence={}, redacted=True)
    if finding.get("suppression"):
        # An admin's free text may name anything: not shown beside a finding that involves another tenant.
        reason = "" if hidden else scrub(finding["suppression"].get("reason") or "", reader)
        redacted["suppression"] = {**finding["suppression"], "reason": reason}
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
