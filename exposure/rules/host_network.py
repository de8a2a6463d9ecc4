"""`host-network`: a pod that speaks with its node's address.

With `hostNetwork: true` network policies do not apply and the array sees a trusted node: a root
process in the pod can speak NFS from user space as the node (AUTH_SYS trusts the address; a
container holds `NET_BIND_SERVICE` for a reserved port by default), with no `privileged` needed.

Judgements:
- High when, on a node where one of the workload's pods runs now, an export rule of another
  tenant's volume admits that node's address, else medium.  Export rules are the address gates:
  parties admitted by an export policy (or a cloud backend's `exportRule`) that name the node,
  and wildcard rules (`0.0.0.0/0`, `::/0`), which admit it too.  Initiator lists (igroups, access
  groups) are not counted: an initiator name is asserted by the client, not carried by the address,
  so hostNetwork gains nothing there (`san-foreign-initiator` and `iscsi-without-chap` judge them).
- Attributed to the pod's namespace and each tenant's namespace whose exports admit the node;
  exports of the pod's own tenant are kept as paths inside the tenant.
- `hostPort` without `hostNetwork` keeps the pod's own address: not this rule.
- One finding per top controller; the node is kept out of identity and evidence.
"""

from dataclasses import dataclass, field

from exposure.analysis.node_admission import NodeAdmission, admitted_nodes
from exposure.analysis.node_escape import MAX_LISTED, node_ref, workloads
from exposure.analysis.paths import ACCESS_LEVELS, ExposurePath, Hop
from exposure.rules.base import Hit, Rule
from inventory.refs import array_ref

SLUG = "host-network"


def _admission(ctx) -> NodeAdmission:
    """The PVs by the nodes their export parties with some access name; a wildcard party admits every
    node, named or not."""
    return ctx.memo(
        f"{SLUG}:admission",
        lambda: NodeAdmission(
            admitted_nodes(ctx), lambda kind: kind.address, everywhere=lambda kind: kind.wildcard
        ),
    )


@dataclass
class _Reached:
    """One owner's exports admitting some of a workload's nodes: the first such node (by reference),
    the PVs in the order the nodes meet them, the access levels, and the data's references."""

    node: str
    pvs: list[str]
    access: set[str]
    first: tuple[str, bool]  # the first PV's first node (name), and whether a party there names it
    refs: list[str] | None = None  # filled when first shown, with the arrays
    arrays: set[str] = field(default_factory=set)


def reached_by_owner(ctx, nodes: tuple[tuple[str, str], ...]) -> dict[str, _Reached]:
    """owner namespace -> what the exports admitting these nodes ((reference, name), by reference)
    reach of its data.  Host-network DaemonSets run on the same nodes: merged once per set of nodes,
    not per workload.

    The nodes are met in order, each with the PVs admitting it: first those of parties naming it (by
    PV), then those of wildcard parties that do not name it.  A PV is met first at the first node
    of its node set (`NodeAdmission`), or at the first node of all for a wildcard one; worked out
    per node set, not per (PV, node)."""
    cache = ctx.memo(f"{SLUG}:reached", dict)
    if nodes in cache:
        return cache[nodes]
    admission, owners_of = _admission(ctx), ctx.memo(f"{SLUG}:owners", dict)
    position = {name: at for at, (_, name) in enumerate(nodes)}
    first_named: dict[str, int] = {}  # PV -> the position of the first node its parties name
    for named, pvs in admission.pvs_by_set.items():
        at = min((position[node] for node in named if node in position), default=None)
        if at is not None:
            first_named.update(dict.fromkeys(pvs, at))
    met = []  # (position of the node it is first met at, met through a wildcard there, PV)
    for pv in admission.kinds:
        at = first_named.get(pv)
        if pv in admission.everywhere and nodes:
            met.append((0, at != 0, pv))
        elif at is not None:
            met.append((at, False, pv))
    reach: dict[str, _Reached] = {}
    for at, wildcard, pv in sorted(met):
        if pv not in owners_of:
            record = ctx.volume_access[pv]
            owners_of[pv] = [n for n in record.get("namespaces") or [] if isinstance(n, str) and n]
        if not owners_of[pv]:
            continue
        access = admission.levels(pv, position)
        for owner in owners_of[pv]:
            if owner not in reach:
                reach[owner] = _Reached(nodes[at][0], [], set(), (nodes[at][1], not wildcard))
            reach[owner].pvs.append(pv)
            reach[owner].access |= access
    cache[nodes] = reach
    return reach


def _first_party(admission: NodeAdmission, entry: _Reached) -> dict:
    """The party through which the owner's first PV admits its first node."""
    pv, (node, named) = entry.pvs[0], entry.first
    return admission.party(pv, node) if named else admission.party_everywhere(pv)


def _export_hops(ctx, record: dict, party: dict) -> list[Hop]:
    """The export policy record the party comes from, when it names one of the snapshot."""
    array, found = record.get("array") or "", (record.get("object") or {}).get("name") or ""
    svm = found.split("/", 1)[0]
    hops = []
    for gate in record.get("gates") or []:
        if isinstance(gate, dict) and gate.get("kind") == "export-policy" and array and svm:
            ref = array_ref(array, "ontap.ExportPolicy", f"{svm}/{gate.get('name')}")
            if ctx.lookup(ref) is not None:
                hops.append(Hop(ref, f"{party.get('via') or ''}: clients {party.get('party') or ''}".strip()))
            break
    return hops


def evaluate(ctx):
    tenancy = ctx.tenancy
    for workload, pods in workloads(ctx).items():
        speaking = [pod for pod in pods if pod.host_network]
        if not speaking:
            continue
        exposed, arrays = set(), set()
        namespace = speaking[0].namespace
        on_nodes = {}  # node ref -> the first pod there
        for pod in speaking:
            node = node_ref(ctx, pod.node) if pod.live else ""
            if node:
                on_nodes.setdefault(node, pod)
        pod = next(iter(on_nodes.values()), speaking[0])
        actor = ctx.pod_actor(pod)
        paths = [
            ExposurePath(
                actor=actor,
                hops=[Hop(pod.ref, "spec.hostNetwork: true")],
                data=sorted(on_nodes)[:MAX_LISTED] or [pod.ref],
                namespace="",
                access="metadata",
                rule=SLUG,
                severity="info" if pod.platform else "medium",
                platform=pod.platform,
                mitigations=["network policies do not apply to host-network pods"],
            )
        ]
        # Grouped per namespace whose exports admit one of its nodes: a DaemonSet on every node, each
        # admitted to every volume, would otherwise make nodes × volumes paths.
        reach = reached_by_owner(ctx, tuple((node, p.node) for node, p in sorted(on_nodes.items())))
        for owner, entry in sorted(reach.items()):
            if entry.refs is None:
                records = [ctx.volume_access[pv] for pv in entry.pvs]
                entry.refs = [
                    ref
                    for pv, record in zip(entry.pvs, records, strict=True)
                    for ref in ctx.volume_data(pv, record)
                ]
                entry.arrays = {record.get("array") or "" for record in records}
            if not entry.refs:
                continue
            data = list(entry.refs)
            inside = tenancy.same_tenant(namespace, owner)
            other = not inside and tenancy.is_tenant_namespace(owner)
            record, party = ctx.volume_access[entry.pvs[0]], _first_party(_admission(ctx), entry)
            node = entry.node
            node_pod = on_nodes[node]
            paths.append(
                ExposurePath(
                    actor=actor,
                    hops=[
                        Hop(node_pod.ref, f"spec.hostNetwork: true (speaks as node {node_pod.node})"),
                        Hop(node, f"its address is admitted ({party.get('verdict')})"),
                        *_export_hops(ctx, record, party),
                    ],
                    data=data,
                    namespace=owner,
                    access=max(entry.access, key=ACCESS_LEVELS.index),
                    rule=SLUG,
                    severity="info" if inside or pod.platform else ("high" if other else "medium"),
                    inside_tenant=inside,
                    platform=pod.platform,
                    mitigations=[party["note"]] if party.get("note") else [],
                )
            )
            if other:
                exposed.add(owner)
                arrays |= entry.arrays
        nodes = sorted({p.node for p in speaking if p.node and p.live})
        yield Hit(
            identity=(workload, "hostNetwork"),
            severity="high" if exposed else "medium",
            title=f"{workload} uses its node's network"
            + (" and the node is admitted by other tenants' exports" if exposed else ""),
            namespaces=[namespace] + sorted(exposed - {namespace}),
            evidence={"hostNetwork": True},
            paths=paths,
            objects=[pod.ref for pod in speaking],
            arrays=arrays - {""},
            detail=(
                f"speaks as {', '.join(nodes) or 'its node'}; "
                + (
                    f"exports of {', '.join(sorted(exposed))} admit that address"
                    if exposed
                    else "no other tenant's export admits that address now"
                )
            ),
            violation=not all(pod.platform for pod in speaking),
        )


RULE = Rule(
    slug=SLUG,
    severity="medium",
    guideline=(
        "Pods must not reach volume mounts on worker nodes: a host-network pod speaks with its node's "
        "address, which the arrays' export rules trust."
    ),
    remediation=(
        "Remove hostNetwork from the pod spec (a Service or hostPort exposes a port without it), and "
        "enforce Pod Security `baseline` or `restricted` on the namespace, which refuses it. If it is a "
        "node agent, have an administrator mark it as platform."
    ),
    evidence_key="the workload and spec.hostNetwork (not the node it runs on)",
    reads=("Pod", "Namespace", "Node", "TridentNode", "PersistentVolume", "PersistentVolumeClaim"),
    evaluate=evaluate,
    reads_arrays=True,
    attributed_to="the pod's namespace, and each tenant whose exports admit that node",
)
