"""A seeded, multi-tenant Kubernetes cluster with NetApp Trident, evolving on a clock of its own.

`Simulation` holds every object the product reads (plus the Secrets it must never read)
as the API server would serve them.  Published objects are never modified in place: a
change stores a new dict with a new resourceVersion, so a list handed out earlier stays
a consistent view (what a paged list at one resourceVersion needs).  Treat every
returned object as read-only.

Nodes, namespaces, volumes and pods are built here, with `platform.py` (system namespaces,
cluster RBAC, node agents), `trident.py` (backends, storage classes, Trident's records) and
`workloads.py` (tenants' ordinary apps); `cases/` adds the situations each rule must find
(or must not), `timeline.py` the events of the simulated month, `invariants.py` the
consistency checks.
"""

import gc
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson

from inventory.kinds import KIND_NAMES, TRIDENT_KINDS
from simulator import cases, platform, shapes, timeline, trident
from simulator.names import (
    CASE_TENANTS,
    Ids,
    generated_tenant,
    namespace_purpose,
    node_external_ip,
    node_internal_ip,
    pod_cidr,
    pod_ip,
    timestamp,
)
from simulator.trident import BACKEND_VARIANTS, Backend
from simulator.workloads import add_tenant_namespace

# Workload namespaces per scale (platform namespaces come on top).
SCALES: dict[str, int] = {"demo": 18, "small": 200, "bench": 2000}
MIN_NAMESPACES = 8  # the seeded cases need four tenants' namespaces and one without a tenant

# Where the seeded cases run, so that their exposure lands where the story says: the lab node hosts
# the namespaces whose pods escape to their node or reach the storage network unchecked (they expose
# one another, and whoever's export admits every node); initech's billing, whose egress policy leaves
# NFS ports open, has a node of its own; every other namespace runs on the remaining workers.
LAB_NAMESPACES = frozenset({"globex-dev", "initech-reports", "umbrella-lab", "sandbox-jdoe"})
OWN_NODE_NAMESPACES = ("initech-billing",)

TENANT_LABEL = "capsule.clastix.io/tenant"
OWNER_GROUP_LABEL = "owner.example.com/group"
OWNER_EMAIL_ANNOTATION = "owner.example.com/email"
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
HISTORY = timedelta(days=35)


@dataclass(frozen=True)
class Sizes:
    namespaces: int
    tenants: int
    nodes: int
    control_planes: int
    pvcs_per_namespace: int
    pods_per_namespace: int
    bindings_per_namespace: int
    policies_per_namespace: float
    backends: int
    # The demo: namespaces beyond the cases' are well run (egress locked down, volumes on export
    # policies of their own), so most namespaces grade well and the few bad ones stand out.
    well_run: bool = False


def sizes_for(scale: str | int) -> Sizes:
    """Bench ratios: 2,000 namespaces, 400 tenants, 1,000 nodes, 50,000 PVCs, 100,000 pods,
    20,000 role bindings, 1,000 NetworkPolicies, 20 Trident backends."""
    if scale == "demo":
        return Sizes(SCALES["demo"], 8, 6, 1, 4, 8, 3, 0.5, len(BACKEND_VARIANTS), well_run=True)
    n = SCALES[scale] if isinstance(scale, str) else int(scale)
    if n < MIN_NAMESPACES:
        raise ValueError(f"scale must be at least {MIN_NAMESPACES} namespaces, got {n}")
    return Sizes(
        namespaces=n,
        tenants=max(len(CASE_TENANTS), n // 5),
        nodes=max(6, n // 2),
        control_planes=3 if n >= 100 else 1,
        pvcs_per_namespace=25,
        pods_per_namespace=50,
        bindings_per_namespace=10,
        policies_per_namespace=0.5,
        backends=max(len(BACKEND_VARIANTS), n // 100),
    )


@dataclass
class NodeFacts:
    name: str
    index: int
    uid: str
    internal_ip: str
    control_plane: bool = False
    retiring: bool = False  # leaves the cluster during the simulated month
    external_ip: str = ""
    iqn: str = ""
    nqn: str = ""


@dataclass
class Tenant:
    name: str
    namespaces: list[str] = field(default_factory=list)


def _copy(obj: dict) -> dict:
    return orjson.loads(orjson.dumps(obj))


class Simulation:
    def __init__(self, seed: int = 0, scale: str | int = "demo", start: datetime | None = None):
        self.seed = seed
        self.sizes = sizes_for(scale)
        self.ids = Ids(seed)
        if start is None:
            start = (datetime.now(UTC) - HISTORY).replace(minute=0, second=0, microsecond=0)
        self.start = self.clock = start
        self.lock = threading.RLock()
        self.trident_installed = True
        self.resource_version = 1000
        self._store: dict[str, dict[tuple[str, str], dict]] = {kind: {} for kind in (*KIND_NAMES, "Secret")}
        self._lists: dict[str, list[dict]] = {}
        self.nodes: dict[str, NodeFacts] = {}
        # Nodes that left the cluster: arrays keep listing some of them (stale access).
        self.departed_nodes: dict[str, NodeFacts] = {}
        self._workers: list[NodeFacts] | None = None
        self.backends: dict[str, Backend] = {}
        self.tenants: dict[str, Tenant] = {}
        self.well_run_namespaces: list[str] = []  # the demo's ordinary namespaces (Sizes.well_run)
        self.trident_uuid = ""

        # Building allocates millions of acyclic dicts: cyclic garbage collection would only
        # rescan them over and over (it costs half the build time at bench scale).
        collecting = gc.isenabled()
        gc.disable()
        self._building = True
        try:
            self._build_nodes()
            trident.install(self)
            platform.build(self)
            self._build_tenants()
            self.cases = cases.seed(self)
            self.sync_publications()
        finally:
            self._building = False
            if collecting:
                gc.enable()
        # The world lives as long as the simulation and holds no reference cycles: keep later
        # collections from rescanning it (refcounting still frees it when the simulation goes).
        gc.freeze()
        self.timeline = timeline.Timeline(self)

    # ------------------------------------------------------------ the interface

    def objects(self, kind: str) -> list[dict]:
        """Every object of `kind` as the API serves it; the list is cached until the kind changes.
        Shared with other callers: never modify the list or its objects."""
        with self.lock:
            if kind in TRIDENT_KINDS and not self.trident_installed:
                return []
            cached = self._lists.get(kind)
            if cached is None:
                cached = self._lists[kind] = list(self._store[kind].values())
            return cached

    def secrets(self) -> list[dict]:
        """Trident's backend credentials and CHAP secrets: what the product must never read."""
        return self.objects("Secret")

    def get(self, ref: str) -> dict | None:
        """The object a case reference names: `Kind/namespace/name` or `Kind/name` (cluster-scoped)."""
        kind, _, rest = ref.partition("/")
        namespace, _, name = rest.rpartition("/")
        return self._store.get(kind, {}).get((namespace, name))

    def advance_to(self, when: datetime) -> None:
        """Apply the timeline's events up to `when` (each at its own time), then the volatile
        churn a real cluster shows over the elapsed time."""
        with self.lock:
            if when < self.clock:
                raise ValueError(f"the simulated clock cannot go back from {self.clock} to {when}")
            self.timeline.run_until(when)
            self.clock = when
            self.timeline.churn_volatile(when)

    def churn(self, fraction: float) -> int:
        """(Benchmarks) change a rule-relevant field of about `fraction` of PVCs, pods and role
        bindings; returns how many objects changed."""
        with self.lock:
            return self.timeline.churn_relevant(fraction)

    def case_manifest(self) -> dict:
        with self.lock:
            return self.cases.manifest()

    # ------------------------------------------------------------ the store

    def put(self, obj: dict) -> dict:
        self.resource_version += 1
        obj["metadata"]["resourceVersion"] = str(self.resource_version)
        m = obj["metadata"]
        self._store[obj["kind"]][(m.get("namespace", ""), m["name"])] = obj
        self._lists.pop(obj["kind"], None)
        return obj

    def change(self, obj: dict, mutate) -> dict:
        """Store a changed copy of `obj` (`mutate` edits the copy); unchanged objects keep their version.

        While the world is being built nothing has been handed out, so `mutate` edits `obj` itself:
        it must then replace, never edit, substructures `shapes` shares between objects."""
        if self._building:
            mutate(obj)
            return self.put(obj)
        updated = _copy(obj)
        mutate(updated)
        if updated == obj:
            return obj
        return self.put(updated)

    def remove(self, kind: str, namespace: str, name: str) -> None:
        if self._store[kind].pop((namespace, name), None) is not None:
            self.resource_version += 1
            self._lists.pop(kind, None)

    def find(self, kind: str, namespace: str, name: str) -> dict | None:
        return self._store[kind].get((namespace, name))

    def stored(self, kind: str):
        return self._store[kind].values()

    def meta(self, name: str, namespace: str | None = None, created: datetime | None = None, **kw) -> dict:
        return shapes.meta(name, self.ids.uid(), created or self.clock, namespace, **kw)

    def aged(self, max_days: int, min_days: int = 1) -> datetime:
        """A creation time before the simulation starts, so findings have a believable 'at least since'."""
        return self.start - timedelta(
            days=self.ids.rng.randint(min_days, max_days), minutes=self.ids.rng.randrange(1440)
        )

    # ------------------------------------------------------------ nodes

    def _build_nodes(self) -> None:
        sizes = self.sizes
        for i in range(sizes.nodes):
            control_plane = i < sizes.control_planes
            retiring = i == sizes.nodes - 1
            if control_plane:
                name = f"cp-{i + 1}"
            elif retiring:
                name = "worker-retiring"
            else:
                name = f"worker-{i - sizes.control_planes + 1:03d}"
            facts = NodeFacts(name, i, "", node_internal_ip(i), control_plane, retiring)
            if i % 5 == 1:  # some nodes also have a public address
                facts.external_ip = node_external_ip(i)
            self.add_node(facts, self.aged(400, 60))

    def add_node(self, facts: NodeFacts, created: datetime) -> None:
        ids = self.ids
        facts.iqn = f"iqn.1994-05.com.redhat:{ids.hex(12)}"
        facts.nqn = f"nqn.2014-08.org.nvmexpress:uuid:{ids.uid()}"
        labels = {
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": facts.name,
            "kubernetes.io/os": "linux",
            "topology.kubernetes.io/zone": f"zone-{'abc'[facts.index % 3]}",
        }
        labels[
            "node-role.kubernetes.io/control-plane"
            if facts.control_plane
            else "node-role.kubernetes.io/worker"
        ] = ""
        m = self.meta(
            facts.name,
            created=created,
            labels=labels,
            annotations={
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        )
        m["managedFields"] = [
            shapes.managed_field("kubelet", created, {"f:metadata": {"f:labels": {}}}),
            shapes.managed_field("kubelet", self.clock, {"f:status": {"f:conditions": {}}}, sub="status"),
        ]
        facts.uid = m["uid"]
        addresses = [{"type": "InternalIP", "address": facts.internal_ip}]
        if facts.external_ip:
            addresses.append({"type": "ExternalIP", "address": facts.external_ip})
        addresses.append({"type": "Hostname", "address": facts.name})
        info = shapes.node_info(ids.hex(32), ids.uid(), ids.uid())
        obj = shapes.node(m, addresses, pod_cidr(facts.index), info, created, facts.control_plane)
        obj["status"]["conditions"] = shapes.node_conditions(self.clock, created)
        self.put(obj)
        self.nodes[facts.name] = facts
        self._workers = None
        if self.trident_uuid:
            trident.put_trident_node(self, facts, created)

    def forget_node(self, name: str) -> None:
        self.departed_nodes[name] = self.nodes.pop(name)
        self._workers = None

    def sync_publications(self) -> None:
        trident.sync_publications(self)

    def workers(self) -> list[NodeFacts]:
        """Nodes that run tenant workloads (the retiring node only runs node agents)."""
        if self._workers is None:
            self._workers = [n for n in self.nodes.values() if not n.control_plane and not n.retiring]
        return self._workers

    def workers_for(self, namespace: str) -> list[NodeFacts]:
        """The workers `namespace`'s pods run on (LAB_NAMESPACES, OWN_NODE_NAMESPACES)."""
        workers = self.workers()
        if len(workers) < 2 + len(OWN_NODE_NAMESPACES):
            return workers
        if namespace in LAB_NAMESPACES:
            return workers[:1]
        if namespace in OWN_NODE_NAMESPACES:
            index = 1 + OWN_NODE_NAMESPACES.index(namespace)
            return workers[index : index + 1]
        return workers[1 + len(OWN_NODE_NAMESPACES) :]

    @property
    def lab_node(self) -> str:
        """The worker the lab's namespaces run on (the first)."""
        return self.workers()[0].name

    # ------------------------------------------------------------ Trident and storage classes

    def backend_for(self, storage_class: str, spread: int = 0) -> Backend:
        candidates = [b for b in self.backends.values() if b.variant.storage_class == storage_class]
        return candidates[spread % len(candidates)]

    # ------------------------------------------------------------ namespaces and volumes

    def add_namespace(
        self,
        name: str,
        tenant: str | None,
        psa: str | None,
        created: datetime,
        owner_group: str | None = None,
    ) -> None:
        labels, annotations = {}, {}
        if tenant:
            labels[TENANT_LABEL] = tenant
        if psa:
            labels[PSA_ENFORCE] = psa
            labels["pod-security.kubernetes.io/enforce-version"] = "latest"
        if owner_group:
            labels[OWNER_GROUP_LABEL] = owner_group
            annotations[OWNER_EMAIL_ANNOTATION] = f"{owner_group}@example.com"
        m = self.meta(name, created=created, labels=labels, annotations=annotations or None)
        m["managedFields"] = [
            shapes.managed_field("kubectl-create", created, {"f:metadata": {"f:labels": {}}})
        ]
        self.put(shapes.namespace(m))

    def add_claim(
        self,
        namespace: str,
        name: str,
        storage_class: str,
        created: datetime,
        size_gi: int = 10,
        access_mode: str = "ReadWriteOnce",
        spread: int = 0,
        annotations: dict | None = None,
        reclaim: str = "Delete",
        share_source: str = "",
    ) -> tuple[dict, dict]:
        """A PVC dynamically provisioned by Trident: PVC, PV `pvc-<PVC uid>` and its TridentVolume."""
        backend = self.backend_for(storage_class, spread)
        if share_source:  # a subordinate volume lives on its source's backend
            source_uuid = self.find("TridentVolume", shapes.TRIDENT_NAMESPACE, share_source)["backendUUID"]
            backend = next(b for b in self.backends.values() if b.uuid == source_uuid)
        size = f"{size_gi}Gi"
        claim_meta = self.meta(
            name,
            namespace,
            created,
            annotations={**shapes.bound_pvc_annotations(shapes.TRIDENT_DRIVER), **(annotations or {})},
        )
        pv_name = f"pvc-{claim_meta['uid']}"
        claim = self.put(shapes.pvc(claim_meta, storage_class, size, access_mode, pv_name))
        source = self.find("PersistentVolume", "", share_source) if share_source else None
        internal_name, internal_id, access = trident.volume_access(self, backend, pv_name, source)
        identity = f"{int(self.start.timestamp() * 1000) - 86_400_000}-{self.ids.rng.randrange(10000)}-" + (
            shapes.TRIDENT_DRIVER
        )
        pv_meta = self.meta(
            pv_name,
            created=created,
            annotations={
                "pv.kubernetes.io/provisioned-by": shapes.TRIDENT_DRIVER,
                "volume.kubernetes.io/provisioner-deletion-secret-name": "",
                "volume.kubernetes.io/provisioner-deletion-secret-namespace": "",
            },
            finalizers=["external-provisioner.volume.kubernetes.io/finalizer", "kubernetes.io/pv-protection"],
        )
        volume = self.put(
            shapes.pv(
                pv_meta,
                shapes.csi_source(
                    pv_name, backend.uuid, internal_name, backend.variant.protocol, identity, internal_id
                ),
                size,
                access_mode,
                shapes.claim_ref(claim),
                storage_class,
                reclaim,
                "Bound",
                created,
            )
        )
        config = shapes.volume_config(
            pv_name,
            internal_name,
            size_gi * 1024**3,
            backend.variant.protocol,
            storage_class,
            access_mode,
            namespace,
            name,
            access,
            internal_id=internal_id,
            share_source=share_source,
            export_policy=trident.export_policy(backend, internal_name, published=False),
        )
        tvol_meta = self.meta(pv_name, shapes.TRIDENT_NAMESPACE, created, finalizers=["trident.netapp.io"])
        pool = {"solidfire-san": "Gold", "azure-netapp-files": "anf-pool-1"}.get(backend.driver, "aggr1")
        self.put(
            shapes.trident_volume(
                tvol_meta, backend.uuid, pool, config, state="subordinate" if share_source else "online"
            )
        )
        return claim, volume

    # ------------------------------------------------------------ pods

    def add_pod(
        self,
        namespace: str,
        name: str,
        containers: list,
        node: str,
        created: datetime,
        owner: dict | None = None,
        labels: dict | None = None,
        volumes=(),
        init_containers=(),
        service_account: str = "default",
        phase: str = "Running",
        node_agent: bool = False,
        annotations: dict | None = None,
        security: dict | None = None,
        generate_name=None,
        **host,
    ) -> dict:
        ids, facts = self.ids, self.nodes[node]
        token, token_mount = shapes.token_volume(ids.suffix())
        for c in (*containers, *init_containers):
            c["volumeMounts"].append(token_mount)
        spec = shapes.pod_spec(
            containers,
            [*volumes, token],
            node,
            service_account,
            node_agent,
            init_containers,
            security,
            **host,
        )
        address = facts.internal_ip if host.get("hostNetwork") else pod_ip(facts.index, ids.rng)
        m = self.meta(
            name,
            namespace,
            created,
            labels=labels,
            annotations=annotations,
            owner=owner,
            generate_name=generate_name,
        )
        ready = created + timedelta(seconds=ids.rng.randrange(3, 40))

        def runtime_id() -> str:
            return "containerd://" + ids.hex(64)

        status = {
            "phase": phase,
            "conditions": shapes.pod_conditions(created, ready, phase),
            "hostIP": facts.internal_ip,
            "hostIPs": [{"ip": facts.internal_ip}],
            "podIP": address,
            "podIPs": [{"ip": address}],
            "qosClass": "Burstable",
            "startTime": timestamp(created),
            "containerStatuses": [shapes.container_status(c, runtime_id(), ready, phase) for c in containers],
        }
        if init_containers:
            status["initContainerStatuses"] = [
                shapes.container_status(c, runtime_id(), created, phase, init=True) for c in init_containers
            ]
        return self.put(shapes.pod(m, spec, status))

    # ------------------------------------------------------------ tenants

    def _build_tenants(self) -> None:
        sizes = self.sizes
        tenant_names = list(CASE_TENANTS) + [
            generated_tenant(i) for i in range(len(CASE_TENANTS), sizes.tenants)
        ]
        # The first namespaces carry the seeded cases: two per case tenant, then one without a tenant.
        layout = [
            ("acme", "web", "restricted"),
            ("acme", "db", "baseline"),
            ("globex", "prod", "restricted"),
            ("globex", "dev", "privileged"),
            ("initech", "billing", "restricted"),
            ("initech", "reports", None),
            ("umbrella", "lab", "baseline"),
            (None, "sandbox-jdoe", "restricted"),
        ]
        # The namespaces after them go round the generated tenants (round the case tenants when
        # there are none), so that each tenant holds about namespaces / tenants of them.
        seeded = len(layout)
        generated = tenant_names[len(CASE_TENANTS) :] or list(CASE_TENANTS)
        for i in range(seeded, sizes.namespaces):
            tenant = generated[(i - seeded) % len(generated)]
            psa = ("restricted", "restricted", "baseline", "restricted", "baseline")[i % 5]
            layout.append((tenant, f"{namespace_purpose(i)}-{i:04d}", psa))
        for i, (tenant, purpose, psa) in enumerate(layout):
            name = purpose if tenant is None else f"{tenant}-{purpose}"
            if tenant:
                self.tenants.setdefault(tenant, Tenant(tenant)).namespaces.append(name)
            well_run = sizes.well_run and i >= MIN_NAMESPACES
            if well_run:
                self.well_run_namespaces.append(name)
            add_tenant_namespace(self, name, tenant, psa, i, self.aged(500, 40), well_run=well_run)

    # ------------------------------------------------------------ Trident publications
