"""`chap-secrets-readable`: someone besides the administrators may read the SolidFire CHAP secrets.

Before Trident 26.06 every TridentVolume of a solidfire-san backend carries its tenant account's CHAP
secrets in plain text, and on solidfire-san the CHAP secret is the access control: whoever holds it
can log in to the iSCSI target of every volume of that account.  Judgements rules.md leaves open:

- "May read" is `get`, `list` or `watch` on `trident.netapp.io` `tridentvolumes` in the Trident
  namespace, by a RoleBinding there or a ClusterRoleBinding.  A rule limited by `resourceNames` counts
  only when it names a TridentVolume of a solidfire-san backend; the account's secret is the same in all
  of that backend's volumes, so it exposes the namespaces with volumes on that backend.
- Volumes are found by the join (each PV's access record names its backend driver); a snapshot without
  a TridentVersion, or with a version we cannot read, is treated as before 26.06 (no false all-clear).
- Control-plane identities (the garbage collector reads everything), Trident's and platform service
  accounts are kept as platform paths, never a violation.  Administrators are not reported.
"""

import re

from exposure.analysis.paths import ExposurePath, Hop
from exposure.analysis.rbac import ADMIN, ORDINARY, grant_hops, inside_tenant, rbac_of, subject_actor
from exposure.rules.base import Hit, Rule
from inventory.constants import SOLIDFIRE_SAN_DRIVER
from inventory.kinds import TRIDENT_GROUP
from inventory.refs import k8s_ref

SLUG = "chap-secrets-readable"
READ = ("get", "list", "watch")
FIXED_IN = (26, 6)


def trident_version(ctx) -> tuple[str, str]:
    """(the version text, the TridentVersion's reference), "" when there is none."""
    for (namespace, name), data in sorted(ctx.state.of_kind("TridentVersion").items()):
        version = data.get("trident_version") if isinstance(data, dict) else None
        if namespace == ctx.trident_namespace:
            return (version if isinstance(version, str) else ""), k8s_ref("TridentVersion", name, namespace)
    return "", ""


def is_fixed(version: str) -> bool:
    match = re.match(r"\s*v?(\d+)\.(\d+)", version)
    return bool(match) and (int(match[1]), int(match[2])) >= FIXED_IN


def solidfire_backends(ctx) -> dict[str, tuple[str, str]]:
    """backend UUID -> (backend name, reference) of every solidfire-san TridentBackend."""
    found = {}
    for (namespace, name), data in ctx.state.of_kind("TridentBackend").items():
        config = data.get("config") if isinstance(data, dict) else None
        sections = config.values() if isinstance(config, dict) else []
        drivers = [s.get("storageDriverName") for s in sections if isinstance(s, dict)]
        uuid = data.get("backendUUID") if isinstance(data, dict) else None
        if SOLIDFIRE_SAN_DRIVER in drivers and isinstance(uuid, str) and uuid:
            found[uuid] = (str(data.get("backendName") or name), k8s_ref("TridentBackend", name, namespace))
    return found


def solidfire_volumes(ctx, backends) -> list[tuple[str, str, str]]:
    """(claim namespace or "", PV name, backend UUID) of every PV the join resolved to solidfire-san."""
    uuid_of = {name: uuid for uuid, (name, _) in backends.items()}
    volumes = []
    for pv, record in sorted(ctx.volume_access.items()):
        if not isinstance(record, dict) or record.get("driver") != SOLIDFIRE_SAN_DRIVER:
            continue
        if ctx.state.get("PersistentVolume", pv) is None:
            continue
        namespaces = [n for n in record.get("namespaces") or [] if isinstance(n, str)] or [""]
        backend = record.get("backend")
        volumes += [(n, pv, uuid_of.get(backend, "") if isinstance(backend, str) else "") for n in namespaces]
    return volumes


def solidfire_tridentvolumes(ctx, backends) -> dict[str, str]:
    """TridentVolume name -> backend UUID, for the solidfire-san ones in the Trident namespace."""
    return {
        name: data["backendUUID"]
        for (namespace, name), data in ctx.state.of_kind("TridentVolume").items()
        if namespace == ctx.trident_namespace
        and isinstance(data, dict)
        and isinstance(data.get("backendUUID"), str)
        and data["backendUUID"] in backends
    }


def readable(grant, ctx, tvols) -> tuple[list[str], set[str] | None]:
    """(what the grant reads, the backends whose secrets it reaches: None means all of them)."""
    namespace = ctx.trident_namespace
    verbs = grant.verbs_on(READ, TRIDENT_GROUP, "tridentvolumes", namespace=namespace)
    if verbs:
        return [f"{verb} {TRIDENT_GROUP}/tridentvolumes" for verb in verbs], None
    granted, reached = set(), set()
    if grant.namespace and grant.namespace != namespace:
        return [], reached  # a RoleBinding elsewhere reads nothing in the Trident namespace
    # Only the objects the grant's rules name can be read one by one (a cluster has tens of thousands
    # of TridentVolumes and thousands of grants: never try each against each).
    named = {name for rule in grant.rules for name in rule.resource_names or ()}
    for name in sorted(named & tvols.keys()):
        uuid = tvols[name]
        for verb in grant.verbs_on(READ, TRIDENT_GROUP, "tridentvolumes", namespace=namespace, name=name):
            granted.add(f"{verb} {TRIDENT_GROUP}/tridentvolumes/{name}")
            reached.add(uuid)
    return sorted(granted), reached


def evaluate(ctx):
    version, version_ref = trident_version(ctx)
    if version and is_fixed(version):
        return
    backends = solidfire_backends(ctx)
    volumes = solidfire_volumes(ctx, backends)
    if not backends or not volumes:
        return
    tvols = solidfire_tridentvolumes(ctx, backends)
    index = rbac_of(ctx)
    seen = set()
    for grant in index.grants_on(TRIDENT_GROUP, "tridentvolumes"):
        kind = index.classify(grant.subject)
        identity = (grant.subject.key, grant.role, grant.binding)
        if kind == ADMIN or identity in seen:
            continue
        granted, reached = readable(grant, ctx, tvols)
        if not granted:  # most grants: no scan of every volume for them
            continue
        exposed = [v for v in volumes if reached is None or v[2] in reached]
        if not exposed:
            continue
        seen.add(identity)
        platform = kind != ORDINARY
        actor = subject_actor(ctx, grant.subject, kind, [grant.namespace] if grant.namespace else [])
        backend_refs = sorted({backends[uuid][1] for _, _, uuid in exposed if uuid in backends})
        hops = grant_hops(grant, granted) + [
            Hop(ref, f"{SOLIDFIRE_SAN_DRIVER}: each TridentVolume holds the account's CHAP secrets")
            for ref in backend_refs
        ]
        by_namespace: dict[str, list[str]] = {}
        for namespace, pv, _ in exposed:
            by_namespace.setdefault(namespace, []).append(k8s_ref("PersistentVolume", pv))
        paths = []
        for namespace, pvs in sorted(by_namespace.items()):
            inside = bool(namespace) and inside_tenant(ctx, actor, namespace)
            paths.append(
                ExposurePath(
                    actor=actor,
                    hops=hops,
                    data=sorted(set(pvs)),
                    namespace=namespace,
                    access="write",
                    rule=SLUG,
                    severity="info" if platform or inside else RULE.severity,
                    inside_tenant=inside,
                    platform=platform,
                )
            )
        pv_refs = sorted({ref for pvs in by_namespace.values() for ref in pvs})
        yield Hit(
            identity=identity,
            severity=RULE.severity,
            title=f"{grant.subject.label} may read TridentVolumes holding SolidFire CHAP secrets",
            namespaces=sorted(n for n in by_namespace if n),
            evidence={
                "subject": grant.subject.key,
                "role": grant.role,
                "granted": granted,
                "trident_version": version or "unknown",
            },
            paths=paths,
            objects=[
                grant.binding,
                grant.role,
                *backend_refs,
                *pv_refs,
                *([version_ref] if version_ref else []),
            ],
            detail=(
                f"{grant.binding} grants {grant.role} to {grant.subject.label} in "
                f"{grant.namespace or 'every namespace'}; Trident {version or '(version unknown)'} keeps "
                "CHAP secrets in TridentVolumes before 26.06"
            ),
            violation=any(path.raises_violation for path in paths),
        )


RULE = Rule(
    slug=SLUG,
    severity="high",
    guideline=(
        "Backends accept only the cluster's worker nodes: on solidfire-san the gate is the tenant account's "
        "CHAP secret, so only administrators and Trident may read the objects that hold it."
    ),
    remediation=(
        "Remove read access to tridentvolumes in the Trident namespace from everyone but cluster "
        "administrators (drop the binding, or the resource and `*` from the role), and upgrade Trident to "
        "26.06 or later, which no longer keeps CHAP secrets in TridentVolumes. Rotate the accounts' CHAP "
        "secrets if they may have been read."
    ),
    evidence_key="the subject, the role and what it may read of tridentvolumes; the Trident version",
    reads=(
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "PersistentVolume",
        "TridentVolume",
        "TridentBackend",
        "TridentVersion",
    ),
    evaluate=evaluate,
    reads_arrays=True,  # whose volumes a backend holds: the access records
    attributed_to="every namespace with solidfire-san volumes",
)
