"""`storage-network-reachable`: pods that NetworkPolicy does not keep off the backends' data LIFs.

Pod traffic leaving the cluster usually carries the node's address, so a pod that reaches a data
LIF on the NFS or iSCSI ports can list exports and mount them as its node (the seed: "prevent pods
from directly accessing the storage network using network policies").  The policies are evaluated
with Kubernetes' own semantics (exposure/analysis/network_policy.py).

Judgements rules.md leaves open, and how they are decided:
- Targets are every address known to serve data: ONTAP data interfaces (an SVM's interface, enabled,
  whose `services` name `data_nfs` / `data_iscsi`; all of both when `services` was not read), the
  Trident backends' `dataLIF` (NAS drivers: NFS; ONTAP SAN iSCSI drivers: iSCSI) and SolidFire SVIPs
  (backend config and cluster record), the addresses TridentVolumes were published at, and static
  NFS/iSCSI PV servers.  Hostnames are not resolved: only IP addresses are evaluated.
- NFS ports are 111 (rpcbind), 635 (ONTAP's mountd) and 2049, each on TCP and UDP: NFSv3, rpcbind
  and mountd all answer over UDP, so a policy that opens only UDP still lets a pod list and mount
  exports.  Any one of them open is enough: 111 and 635 alone list exports and hand out file
  handles.  iSCSI is 3260/TCP.
- One finding per namespace (identity: the Namespace), whatever its workloads, targets or ports, so a
  rollout or a new LIF never churns it; the evidence key is the reachable addresses and ports, so a
  suppression reopens when more of the storage network becomes reachable.
- High when a reachable LIF (same array and SVM, same backend, or the PV's own server) serves with a
  reachable protocol an export of another tenant that admits the node of one of the pods; such
  tenants' namespaces are attributed too.  Otherwise medium.
- Only live pods without hostNetwork count (NetworkPolicy does not apply to host-network pods;
  `host-network` judges those).  Platform pods yield paths, never a violation.
- An admin's attestation that the storage network is firewalled turns the finding into paths only:
  no violation, each path carrying the attestation as its mitigation.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from arrays.backends import backend_info, host_of
from exposure.analysis.network_policy import EgressEvaluator, as_address, policies_by_namespace
from exposure.analysis.node_admission import NodeAdmission, access_level, admitted_nodes
from exposure.analysis.paths import ExposurePath, Hop
from exposure.analysis.served_exports import ServedExports
from exposure.rules.base import Hit, Rule
from inventory.constants import NAS_DRIVERS, ONTAP_SAN_DRIVERS, SOLIDFIRE_SAN_DRIVER
from inventory.fields import as_list as _list
from inventory.fields import as_mapping as _mapping
from inventory.refs import array_ref, k8s_ref

SLUG = "storage-network-reachable"
NFS, ISCSI = "nfs", "iscsi"
STORAGE_PORTS = {
    NFS: tuple((port, proto) for port in (111, 635, 2049) for proto in ("TCP", "UDP")),
    ISCSI: ((3260, "TCP"),),
}
_LIF_SERVICES = {"data_nfs": NFS, "data_iscsi": ISCSI}
MAX_ADDRESS_PATHS = 3  # per workload, to storage addresses it reaches without another tenant's export
MAX_FOREIGN_NAMESPACES = 20  # other namespaces named (and given a path) per finding; the rest are counted


@dataclass
class Target:
    """One address that serves data, and what says so."""

    address: str
    protocols: set[str] = field(default_factory=set)
    refs: list[tuple[str, str]] = field(default_factory=list)  # (object ref, what it says), best first
    places: set[tuple[str, str]] = field(default_factory=set)  # (array, SVM) it belongs to
    backends: set[str] = field(default_factory=set)
    pvs: set[str] = field(default_factory=set)  # static PVs that name it as their server
    parsed: object = None  # the address as an ip_address, for the NetworkPolicy evaluation
    _named: set[str] = field(default_factory=set, repr=False)  # the refs' objects, to add each once

    @property
    def arrays(self) -> set[str]:
        return {array for array, _ in self.places if array}


class _Targets:
    def __init__(self):
        self.by_address: dict[str, Target] = {}
        # Thousands of volumes name the same few addresses: each distinct text is parsed once.
        self._parsed: dict[str, object] = {}

    def _parse(self, address):
        if not isinstance(address, str):
            return None
        if address not in self._parsed:
            self._parsed[address] = as_address(host_of(address))
        return self._parsed[address]

    def add(self, address, protocols, ref, says, array="", svm="", backend="", pv=""):
        parsed = self._parse(address)
        if parsed is None or not protocols:
            return
        key = str(parsed)
        if key not in self.by_address:
            self.by_address[key] = Target(key, parsed=parsed)
        target = self.by_address[key]
        target.protocols |= set(protocols)
        if ref not in target._named:
            target._named.add(ref)
            target.refs.append((ref, says))
        if array:
            target.places.add((array, svm))
        if backend:
            target.backends.add(backend)
        if pv:
            target.pvs.add(pv)


def storage_targets(ctx) -> list[Target]:
    targets = _Targets()
    for array, records in sorted(ctx.state.arrays.items()):
        for key, lif in sorted(records.all("ontap.Interface").items()):
            svm = _mapping(lif.get("svm")).get("name") or ""
            if not isinstance(svm, str) or not svm or lif.get("enabled") is False:
                continue  # cluster and node interfaces carry no data; a disabled LIF serves nothing
            services = lif.get("services")
            protocols = (
                {_LIF_SERVICES[s] for s in services if isinstance(s, str) and s in _LIF_SERVICES}
                if isinstance(services, list)
                else {NFS, ISCSI}
            )
            address = _mapping(lif.get("ip")).get("address")
            ref = array_ref(array, "ontap.Interface", key)
            targets.add(address, protocols, ref, f"data interface of SVM {svm}", array, svm)
        for key, cluster in sorted(records.all("solidfire.Cluster").items()):
            ref = array_ref(array, "solidfire.Cluster", key)
            targets.add(cluster.get("svip"), {ISCSI}, ref, "SolidFire storage VIP", array)
    trident_ns = ctx.trident_namespace
    backend_names = {}
    for (namespace, name), raw in sorted(ctx.state.of_kind("TridentBackend").items()):
        info = backend_info(raw)
        if not all(isinstance(v, str) for v in (info.name, info.uuid, info.driver, info.svm)):
            continue  # odd input: a backend that names itself with something other than text
        backend_names[info.uuid] = info.name
        array = ctx.state.array_for_backend(info.uuid) or ""
        ref = k8s_ref("TridentBackend", name, namespace or trident_ns)
        if info.driver in NAS_DRIVERS:
            targets.add(
                info.data_lif, {NFS}, ref, f"dataLIF of backend {info.name}", array, info.svm, info.name
            )
        elif info.driver in ONTAP_SAN_DRIVERS and (info.config.get("sanType") or ISCSI) == ISCSI:
            targets.add(
                info.data_lif, {ISCSI}, ref, f"dataLIF of backend {info.name}", array, info.svm, info.name
            )
        elif info.driver == SOLIDFIRE_SAN_DRIVER:
            svip = info.config.get("SVIP")
            targets.add(svip, {ISCSI}, ref, f"SVIP of backend {info.name}", array, "", info.name)
    for (namespace, name), tvol in sorted(ctx.state.of_kind("TridentVolume").items()):
        access = _mapping(_mapping(tvol.get("config")).get("accessInformation"))
        uuid = tvol.get("backendUUID")
        backend = backend_names.get(uuid, "") if isinstance(uuid, str) else ""
        ref = k8s_ref("TridentVolume", name, namespace)
        targets.add(access.get("nfsServerIp"), {NFS}, ref, "published NFS server", backend=backend)
        portals = [access.get("iscsiTargetPortal"), *(_list(access.get("iscsiPortals")))]
        for portal in portals:
            targets.add(portal, {ISCSI}, ref, "published iSCSI portal", backend=backend)
    for (_, name), pv in sorted(ctx.state.of_kind("PersistentVolume").items()):
        spec = _mapping(pv.get("spec"))
        ref = k8s_ref("PersistentVolume", name)
        targets.add(_mapping(spec.get("nfs")).get("server"), {NFS}, ref, "static NFS server", pv=name)
        iscsi = _mapping(spec.get("iscsi"))
        for portal in [iscsi.get("targetPortal"), *_list(iscsi.get("portals"))]:
            targets.add(portal, {ISCSI}, ref, "static iSCSI portal", pv=name)
    return sorted(targets.by_address.values(), key=lambda t: t.address)


def _labels(pod) -> dict:
    labels = (pod.data.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}


@dataclass
class Reach:
    """What one pod (by its labels) may send to one target."""

    ports: list[tuple[int, str]]  # the storage ports it may reach
    blocked: list[tuple[int, str]]
    hops: list[Hop]  # the policies that let it through (or that select it without isolating it)
    isolating: list[str]  # references of the policies that isolate its egress


def _reach(evaluator, namespace, labels, target, namespace_ref) -> Reach:
    ports, blocked, hops, isolating = [], [], {}, []
    for protocol in sorted(target.protocols):
        for port, transport in STORAGE_PORTS[protocol]:
            verdict = evaluator.verdict(namespace, labels, target.parsed or target.address, port, transport)
            isolating = [p.ref for p in verdict.isolating]
            if not verdict.allowed:
                blocked.append((port, transport))
                continue
            ports.append((port, transport))
            for policy, rule in verdict.allowed_by:
                hops.setdefault(policy.ref, Hop(policy.ref, rule.text()))
            if not verdict.isolated:
                for policy in verdict.selecting:
                    types = ", ".join(policy.types) or "none"
                    hops.setdefault(
                        policy.ref, Hop(policy.ref, f"policyTypes [{types}]: egress not isolated")
                    )
    if ports and not isolating and namespace_ref:
        hops.setdefault(namespace_ref, Hop(namespace_ref, "no NetworkPolicy with Egress selects the pod"))
    return Reach(ports, blocked, list(hops.values()), isolating)


def _port_text(ports) -> str:
    return ", ".join(f"{port}/{transport}" for port, transport in ports)


def _target_keys(target: Target) -> set[tuple]:
    """What an export must be on for this address to serve it (see `_export_keys`)."""
    keys = {("pv", pv) for pv in target.pvs} | {("backend", b) for b in target.backends}
    for array, svm in target.places:
        keys |= {("svm", array, svm), ("array without svm", array)} if svm else {("array", array)}
    return keys


def _export_keys(pv: str, record: dict) -> set[tuple]:
    """An export is served by an address of its PV's own server, of its backend, of its array (any
    SVM when the address names none), or of its SVM on that array."""
    obj = record.get("object") or {}
    svm = (obj.get("name") or "").split("/", 1)[0] if (obj.get("kind") or "").startswith("ontap.") else ""
    keys = {("pv", pv)}
    if isinstance(record.get("backend"), str) and record["backend"]:
        keys.add(("backend", record["backend"]))
    if array := record.get("array"):
        keys |= {("array", array), ("svm", array, svm) if svm else ("array without svm", array)}
    return keys


def _targets(ctx) -> list[Target]:
    return ctx.memo(f"{SLUG}:targets", lambda: storage_targets(ctx))


def _owners(ctx) -> Callable[[str], tuple[tuple[str, ...], frozenset, str]]:
    """PV -> its owner namespaces, their tenants and its array, each worked out once (a PV is asked
    about for every node set it is in)."""
    cache: dict[str, tuple] = {}
    tenant_of, records = ctx.tenancy.tenant_of, ctx.volume_access

    def owners_of(pv: str) -> tuple[tuple[str, ...], frozenset, str]:
        if pv not in cache:
            record = records[pv]
            owners = tuple(n for n in record.get("namespaces") or [] if isinstance(n, str))
            cache[pv] = (owners, frozenset(map(tenant_of, owners)), record.get("array") or "")
        return cache[pv]

    return owners_of


def _admission(ctx) -> NodeAdmission:
    """The PVs by the nodes their parties with some access admit (who speaks as the node passes)."""
    return ctx.memo(f"{SLUG}:admission", lambda: NodeAdmission(admitted_nodes(ctx), lambda kind: True))


def _served_exports(ctx) -> ServedExports:
    """What each address serves each node: each PV under the keys (`_export_keys`) some target asks for."""

    def build() -> ServedExports:
        wanted = set().union(*map(_target_keys, _targets(ctx)))
        records = ctx.volume_access

        def buckets_of(pv: str) -> list[tuple]:
            record = records[pv]
            return [(key, record.get("protocol")) for key in _export_keys(pv, record) & wanted]

        return ServedExports(_admission(ctx), buckets_of, _owners(ctx))

    return ctx.memo(f"{SLUG}:served-exports", build)


@dataclass
class _Reachable:
    """One target that pods selected by some set of policies reach, with what every path to it from
    such a pod carries (worked out once per namespace and set of policies, not per pod)."""

    target: Target
    reach: Reach
    key: tuple[str, tuple[str, ...]]  # the address and the protocols with some reachable port, sorted
    mitigations: list[str]
    lif_hop: Hop
    buckets: frozenset  # (`_export_keys` key, protocol) of the exports it serves over those protocols


class _Namespace:
    """The pods of one namespace against every target: the paths, and what they add up to."""

    def __init__(self, ctx, evaluator, namespace: str, targets: list[Target]):
        self.ctx, self.evaluator, self.namespace, self.targets = ctx, evaluator, namespace, targets
        self.tenant = ctx.tenancy.tenant_of(namespace)
        self.firewalled = bool(ctx.settings.storage_network_firewalled)
        ns_ref = k8s_ref("Namespace", namespace)
        self.namespace_ref = ns_ref if ctx.lookup(ns_ref) is not None else ""
        self.paths: list[ExposurePath] = []
        self.reachable: dict[str, set[tuple[int, str]]] = {}
        self.objects: dict[str, None] = {}
        self.arrays: set[str] = set()
        self.foreign: set[str] = set()
        self.violation = False
        self.high = False
        self._seen: set[tuple] = set()
        # A pod's reach depends on its labels only through the policies that select it: pods selected
        # by the same policies share it (thousands of pods, a handful of policies per namespace).
        self._reachable: dict[tuple, list[_Reachable]] = {}
        self._pods_judged: set[tuple] = set()
        # (policies, node) judged -> the targets where its pods may still get an address path: those
        # with no other tenant's export there (a later pod there finds every export shown already).
        self._groups: dict[tuple, list[_Reachable]] = {}
        self._combos: dict[tuple, int] = {}  # ((address, protocols), node) judged -> others' exports there
        self.foreign_count = 0  # the most other namespaces' exports one address serves to one node
        self._counts: dict[tuple, int] = {}

    def add_pod(self, pod) -> None:
        labels = _labels(pod)
        selected_by = tuple(p.ref for p in self.evaluator.selecting(self.namespace, labels))
        # Pods of one workload on one node, selected by the same policies, add nothing new.
        signature = (selected_by, pod.workload, pod.node, pod.platform)
        if signature in self._pods_judged:
            return
        self._pods_judged.add(signature)
        reachable = self._reachable_by(selected_by, labels)
        group = (selected_by, pod.node)
        if group not in self._groups:
            self._groups[group] = self._judge(pod, reachable)
        elif self._counts.get((pod.workload, "addresses"), 0) < MAX_ADDRESS_PATHS:
            node_hop = self._node_hop(pod.node)
            for entry in self._groups[group]:
                self._address_path(pod, entry, node_hop)

    def _reachable_by(self, selected_by: tuple, labels: dict) -> list[_Reachable]:
        """The targets pods selected by these policies reach; the first time, what that adds to the
        finding (addresses, ports, the objects that make it true)."""
        if selected_by in self._reachable:
            return self._reachable[selected_by]
        found = []
        for target in self.targets:
            reach = _reach(self.evaluator, self.namespace, labels, target, self.namespace_ref)
            if not reach.ports:
                continue
            self.reachable.setdefault(target.address, set()).update(reach.ports)
            self.objects.update(dict.fromkeys(h.ref for h in reach.hops))
            # The object that says the address is storage (a data LIF, a PV's server) makes it true;
            # every PV on the same address does not.
            self.objects.setdefault(target.refs[0][0], None)
            self.arrays |= target.arrays
            reached = {p for p in target.protocols if any(pt in reach.ports for pt in STORAGE_PORTS[p])}
            ref, says = target.refs[0]
            lif_hop = Hop(ref, f"{target.address} ({says}) reachable on {_port_text(reach.ports)}")
            found.append(
                _Reachable(
                    target,
                    reach,
                    (target.address, tuple(sorted(reached))),
                    self._mitigations(reach),
                    lif_hop,
                    frozenset((key, p) for key in _target_keys(target) for p in reached),
                )
            )
        self._reachable[selected_by] = found
        return found

    def _node_hop(self, node: str) -> list[Hop]:
        node_ref = k8s_ref("Node", node) if node else ""
        if node_ref and self.ctx.lookup(node_ref) is not None:
            return [Hop(node_ref, "pod traffic leaves with the node's address")]
        return []

    def _judge(self, pod, reachable: list[_Reachable]) -> list[_Reachable]:
        """The first pod with these policies on its node: other tenants' exports each target serves
        that node, and address paths where there are none.  Returns the targets with none."""
        node, node_hop = pod.node, self._node_hop(pod.node)
        if node and len(self.foreign) >= MAX_FOREIGN_NAMESPACES:
            without_exports = self._count(reachable, node)
            for entry in without_exports:
                self._address_path(pod, entry, node_hop)
            return without_exports
        without_exports = []
        for entry in reachable:
            count, foreign = self._foreign_exports(entry, node) if node else (0, [])
            hops = [*entry.reach.hops, *node_hop, entry.lif_hop] if foreign else []
            for pv, record, party in foreign:
                owner = (record.get("namespaces") or [""])[0]
                self.foreign.update(record.get("namespaces") or [])
                self._path(
                    pod,
                    entry.target,
                    ("export", pv),
                    hops,
                    partial(self.ctx.volume_data, pv, record),
                    owner,
                    access_level(party),
                    "high",
                    list(entry.mitigations),
                )
            if not count:  # no other tenant's export there (nor any shown): an address path instead
                without_exports.append(entry)
                self._address_path(pod, entry, node_hop)
        return without_exports

    def _address_path(self, pod, entry: _Reachable, node_hop: list[Hop]) -> None:
        target = entry.target
        if (pod.workload, target.address, ("lif",)) in self._seen:
            return
        self._path(
            pod,
            target,
            ("lif",),
            [*entry.reach.hops, *node_hop],
            partial(list, [target.refs[0][0]]),
            "",
            "metadata",
            "medium",
            list(entry.mitigations),
        )

    def _foreign_exports(self, entry: _Reachable, node: str) -> tuple[int, list]:
        """How many other tenants' exports (one per namespace) admit `node` and are served by the
        target, and the first MAX_FOREIGN_NAMESPACES of them once per namespace, target and node (the
        rest are counted).  Where exports admit every node, every namespace reaches every other
        one's data: at 2,000 namespaces that is millions of paths, so the finding shows some and
        counts all."""
        combo = (entry.key, node)
        if combo in self._combos:
            return self._combos[combo], []
        served = _served_exports(self.ctx).at(node, entry.buckets)
        mine = self.tenant
        foreign_count = served.foreign_count(mine)
        self._combos[combo] = foreign_count
        if not foreign_count:
            return 0, []
        self.foreign_count = max(self.foreign_count, foreign_count)
        self.arrays |= served.arrays
        if len(self.foreign) >= MAX_FOREIGN_NAMESPACES:
            return foreign_count, []  # enough named already
        records, party = self.ctx.volume_access, _admission(self.ctx).party
        shown = served.foreign(mine, MAX_FOREIGN_NAMESPACES - len(self.foreign))
        return foreign_count, [(pv, records[pv], party(pv, node)) for pv in shown]

    def _count(self, reachable: list[_Reachable], node: str) -> list[_Reachable]:
        """`_foreign_exports` once enough other namespaces are named, when no export is shown any more:
        what each target serves `node` only counts (the most, the arrays).  Returns the targets that
        serve no other tenant's export there.  (Pods × targets at the bench scale: kept lean.)"""
        served_exports, mine, without_exports = _served_exports(self.ctx), self.tenant, []
        for entry in reachable:
            served = served_exports.at(node, entry.buckets)
            count = served.foreign_count(mine)
            if not count:
                without_exports.append(entry)
                continue
            self.foreign_count = max(self.foreign_count, count)
            self.arrays |= served.arrays
        return without_exports

    def _mitigations(self, reach: Reach) -> list[str]:
        mitigations = []
        if reach.isolating and reach.blocked:
            mitigations.append(
                f"egress isolated by {', '.join(reach.isolating)}: blocks {_port_text(reach.blocked)}"
            )
        if self.firewalled:
            attestation = self.ctx.settings.firewall_attestation or "(no statement recorded)"
            mitigations.append(f"storage network attested firewalled from pods: {attestation}")
        return mitigations

    def _path(self, pod, target, what, hops, data_of, owner, access, severity, mitigations) -> None:
        # Enough paths to show the exposure without one per pod, address and volume: one path (from the
        # first workload) into each other namespace's data, and per workload a few to storage addresses
        # it may merely reach.  The data's references are looked up only for a path not shown yet.
        key = ("export", owner) if what[0] == "export" else (pod.workload, target.address, what)
        per_workload = (pod.workload, "addresses")
        if key in self._seen or not (data := data_of()):
            return
        if what[0] != "export":
            if self._counts.get(per_workload, 0) >= MAX_ADDRESS_PATHS:
                return
            self._counts[per_workload] = self._counts.get(per_workload, 0) + 1
        self._seen.add(key)
        if severity == "high" and not pod.platform and not self.firewalled:
            self.high = True
        if not pod.platform and not self.firewalled:
            self.violation = True
        self.paths.append(
            ExposurePath(
                actor=self.ctx.pod_actor(pod),
                hops=hops,
                data=data,
                namespace=owner,
                access=access,
                rule=SLUG,
                severity="info" if pod.platform or self.firewalled else severity,
                mitigations=mitigations,
                platform=pod.platform,
            )
        )

    def hit(self) -> Hit | None:
        if not self.reachable:
            return None
        reachable = {
            address: [f"{p}/{t}" for p, t in sorted(ports)] for address, ports in self.reachable.items()
        }
        summary = "; ".join(
            f"{address} on {', '.join(ports)}" for address, ports in sorted(reachable.items())
        )
        severity = "high" if self.high else RULE.severity
        objects = ([self.namespace_ref] if self.namespace_ref else []) + [
            ref for ref in self.objects if ref != self.namespace_ref
        ]
        detail = f"its pods may reach {summary}"
        if self.foreign_count > len(self.foreign - {self.namespace}):
            detail += (
                f"; exports of at least {self.foreign_count} other namespaces admit their nodes "
                f"(the first {MAX_FOREIGN_NAMESPACES} are named)"
            )
        if self.firewalled:
            detail += "; not raised: the storage network is attested firewalled from pods"
        return Hit(
            identity=(k8s_ref("Namespace", self.namespace),),
            severity=severity,
            title=f"Pods of {self.namespace} can reach the storage network on NFS/iSCSI ports",
            namespaces=[self.namespace, *sorted(self.foreign - {self.namespace})],
            evidence={"reachable": dict(sorted(reachable.items()))},
            paths=self.paths,
            objects=objects,
            arrays=self.arrays,
            detail=detail,
            violation=self.violation,
        )


def evaluate(ctx):
    targets = _targets(ctx)
    if not targets:
        return
    evaluator = EgressEvaluator(policies_by_namespace(ctx.state.of_kind("NetworkPolicy")))
    by_namespace: dict[str, list] = {}
    for pod in ctx.pods:
        named = all(isinstance(v, str) for v in (pod.namespace, pod.name, pod.node))
        if pod.live and not pod.host_network and named and pod.namespace:
            by_namespace.setdefault(pod.namespace, []).append(pod)
    for namespace, pods in sorted(by_namespace.items()):
        judged = _Namespace(ctx, evaluator, namespace, targets)
        for pod in sorted(pods, key=lambda p: (p.workload, p.name)):
            judged.add_pod(pod)
        if (hit := judged.hit()) is not None:
            yield hit


RULE = Rule(
    slug=SLUG,
    severity="medium",
    guideline=(
        "Pods must not reach the storage network: a pod that can talk to a data LIF on NFS or iSCSI ports "
        "can list exports and mount them with its node's address."
    ),
    remediation=(
        "Give every tenant namespace a default-deny egress NetworkPolicy (podSelector {}, policyTypes "
        "[Egress]) and allow only what the workloads need, with the data LIFs' addresses in ipBlock.except "
        "of any broad ipBlock; or firewall the pod network off the storage network on the hosts and record "
        "that attestation for the cluster. As the guidance says: prevent pods from directly accessing the "
        "storage network using network policies."
    ),
    evidence_key="the storage addresses and ports the namespace's pods may reach",
    reads=(
        "Pod",
        "NetworkPolicy",
        "Namespace",
        "TridentBackend",
        "TridentVolume",
        "PersistentVolume",
        "PersistentVolumeClaim",
    ),
    evaluate=evaluate,
    reads_arrays=True,
    attributed_to="the namespace, and each tenant whose exports admit the pods' nodes",
)
