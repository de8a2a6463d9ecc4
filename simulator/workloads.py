"""A tenant namespace's ordinary contents: owners' bindings, StatefulSets with their own
volumes, Deployments sharing a ReadWriteMany volume, stateless services and a CronJob.

Sized by the scale's ratios (bench: 25 PVCs, 50 pods and 10 role bindings per namespace).
"""

from datetime import datetime, timedelta

from simulator import shapes
from simulator.shapes import container, mount, owner_ref, rule, subject

RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
# Storage classes for single-writer and shared volumes, most common first.
_RWO_CLASSES = (
    "nas-gold",
    "nas-gold",
    "san-gold",
    "nas-economy",
    "solidfire-gold",
    "san-nvme",
    "anf-standard",
)
_RWX_CLASSES = ("nas-gold", "nas-economy", "nas-flexgroup", "anf-standard")
# A well-run namespace's classes: each volume on an export policy or igroup of its own, with CHAP
# (a FlexGroup's or Azure's policy admits every node; SolidFire's CHAP secrets sit in TridentVolumes).
_WELL_RUN_RWO_CLASSES = ("nas-gold", "nas-gold", "san-gold", "nas-economy", "san-nvme")
_WELL_RUN_RWX_CLASSES = ("nas-gold", "nas-economy")


def add_tenant_namespace(
    sim,
    name: str,
    tenant: str | None,
    psa: str | None,
    index: int,
    created: datetime,
    well_run: bool = False,
):
    owner = f"{tenant}-admins" if tenant else None
    sim.add_namespace(name, tenant, psa, created, owner)
    _bindings(sim, name, tenant, created)
    # A quarter of the ordinary namespaces lock egress down; a well-run one always does.
    if well_run or (index % 4 == 0 and index >= 8):
        deny_egress_except_dns(sim, name, created)
    add_workloads(sim, name, created + timedelta(hours=2), well_run=well_run)


def _bindings(sim, namespace: str, tenant: str | None, created: datetime) -> None:
    count = sim.sizes.bindings_per_namespace
    people = [subject("Group", f"{tenant}-admins")] if tenant else [subject("User", "jdoe@example.com")]
    plan = [
        ("owners", "ClusterRole", "admin", people),
        (
            "developers",
            "ClusterRole",
            "edit",
            [subject("User", f"dev{i}@{tenant or 'jdoe'}.example.com") for i in (1, 2)],
        ),
        ("viewers", "ClusterRole", "view", [subject("Group", f"{tenant or namespace}-viewers")]),
    ]
    if count > len(plan):
        sim.put(
            shapes.role(
                sim.meta("config-reader", namespace, created),
                [rule([""], ("configmaps",), ("get", "list", "watch"))],
            )
        )
    for i in range(count - len(plan)):
        plan.append(
            (f"app-{i}-config", "Role", "config-reader", [subject("ServiceAccount", f"app-{i}", namespace)])
        )
    for suffix, role_kind, role_name, subjects in plan[:count]:
        sim.put(
            shapes.binding(
                "RoleBinding",
                sim.meta(
                    f"{namespace}-{suffix}" if role_kind == "ClusterRole" else suffix, namespace, created
                ),
                role_kind,
                role_name,
                subjects,
            )
        )


def deny_egress_except_dns(sim, namespace: str, created: datetime) -> None:
    sim.put(shapes.network_policy(sim.meta("default-deny-egress", namespace, created), {}, ["Egress"]))
    dns = [
        {
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                }
            ],
        }
    ]
    sim.put(shapes.network_policy(sim.meta("allow-dns", namespace, created), {}, ["Egress"], egress=dns))


def add_workloads(sim, namespace: str, created: datetime, well_run: bool = False) -> None:
    sizes, rng = sim.sizes, sim.ids.rng
    rwo = _WELL_RUN_RWO_CLASSES if well_run else _RWO_CLASSES
    rwx = _WELL_RUN_RWX_CLASSES if well_run else _RWX_CLASSES
    statefulsets = max(1, round(sizes.pvcs_per_namespace * 0.72 / 3))
    shared = max(0, sizes.pvcs_per_namespace - 3 * statefulsets)
    pods = 3 * statefulsets + 4 * shared
    for k in range(statefulsets):
        add_statefulset(sim, namespace, f"db-{k}", 3, rng.choice(rwo), created)
    for k in range(shared):
        claim, _ = sim.add_claim(
            namespace,
            f"web-{k}-content",
            rng.choice(rwx),
            created,
            access_mode="ReadWriteMany",
            spread=rng.randrange(100),
        )
        add_deployment(sim, namespace, f"web-{k}", 4, created, claim=claim["metadata"]["name"])
    k = 0
    while pods + 3 < sizes.pods_per_namespace:
        add_deployment(sim, namespace, f"api-{k}", 3, created)
        pods, k = pods + 3, k + 1
    if pods < sizes.pods_per_namespace:
        add_cronjob_run(sim, namespace, "nightly-report", created)


def _app_container(name: str, image: str, mounts: list, port: int | None = None) -> dict:
    ports = [{"containerPort": port, "name": "http", "protocol": "TCP"}] if port else ()
    return container(name, image, mounts, RESTRICTED_CONTAINER, ports)


def add_statefulset(
    sim,
    namespace: str,
    name: str,
    replicas: int,
    storage_class: str,
    created: datetime,
    pod_security: dict | None = None,
) -> list[dict]:
    ids, workers = sim.ids, sim.workers_for(namespace)
    owner = owner_ref("StatefulSet", name, ids.uid())
    revision = f"{name}-{ids.template_hash()}"
    first = ids.rng.randrange(len(workers))
    pods = []
    for ordinal in range(replicas):
        claim, _ = sim.add_claim(
            namespace, f"data-{name}-{ordinal}", storage_class, created, spread=ids.rng.randrange(100)
        )
        pods.append(
            sim.add_pod(
                namespace,
                f"{name}-{ordinal}",
                [
                    _app_container(
                        "postgres",
                        "docker.io/library/postgres:16.4",
                        [mount("data", "/var/lib/postgresql/data")],
                        5432,
                    )
                ],
                workers[(first + ordinal) % len(workers)].name,
                created + timedelta(minutes=ordinal),
                owner=owner,
                labels={
                    "app.kubernetes.io/name": name,
                    "controller-revision-hash": revision,
                    "statefulset.kubernetes.io/pod-name": f"{name}-{ordinal}",
                },
                volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}],
                init_containers=[
                    container(
                        "init-permissions",
                        "docker.io/library/busybox:1.36",
                        [mount("data", "/data")],
                        RESTRICTED_CONTAINER,
                        command=["sh", "-c", "chmod 0700 /data"],
                    )
                ],
                security=pod_security or {"fsGroup": 999, "runAsUser": 999, "runAsGroup": 999},
            )
        )
    return pods


def add_deployment(
    sim,
    namespace: str,
    name: str,
    replicas: int,
    created: datetime,
    claim: str | None = None,
    template_hash: str | None = None,
    nodes: list[str] | None = None,
) -> list[dict]:
    """Pods of a Deployment's current ReplicaSet (`<name>-<pod-template-hash>`)."""
    ids, workers = sim.ids, sim.workers_for(namespace)
    template_hash = template_hash or ids.template_hash()
    replica_set = f"{name}-{template_hash}"
    owner = owner_ref("ReplicaSet", replica_set, ids.uid())
    volumes = [
        {"name": "config", "configMap": {"name": f"{name}-config", "defaultMode": 420}},
        {"name": "tmp", "emptyDir": {}},
    ]
    mounts = [mount("config", "/etc/app", True), mount("tmp", "/tmp")]  # noqa: S108 - a path inside the container
    if claim:
        volumes.append({"name": "content", "persistentVolumeClaim": {"claimName": claim}})
        mounts.append(mount("content", "/srv/content"))
    labels = {"app.kubernetes.io/name": name, "pod-template-hash": template_hash}
    pods = []
    for i in range(replicas):
        node = nodes[i % len(nodes)] if nodes else workers[ids.rng.randrange(len(workers))].name
        pods.append(
            sim.add_pod(
                namespace,
                f"{replica_set}-{ids.suffix()}",
                [
                    _app_container(
                        "app",
                        f"registry.example.com/{namespace}/{name}:1.{ids.rng.randrange(30)}",
                        list(mounts),
                        8080,
                    )
                ],
                node,
                created,
                owner=owner,
                generate_name=f"{replica_set}-",
                labels=labels,
                volumes=list(volumes),
                service_account=f"{name}" if claim else "default",
                security={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            )
        )
    return pods


def add_cronjob_run(sim, namespace: str, cronjob: str, created: datetime) -> dict:
    """The last run of a CronJob: a Job (named after its scheduled minute) and its completed pod."""
    ids = sim.ids
    job = f"{cronjob}-{int(created.timestamp()) // 60}"
    job_uid = ids.uid()
    owner = owner_ref("Job", job, job_uid, api_version="batch/v1")
    labels = {
        "batch.kubernetes.io/controller-uid": job_uid,
        "batch.kubernetes.io/job-name": job,
        "controller-uid": job_uid,
        "job-name": job,
    }
    return sim.add_pod(
        namespace,
        f"{job}-{ids.suffix()}",
        [container("report", "registry.example.com/tools/report:2.3", [], RESTRICTED_CONTAINER)],
        sim.workers_for(namespace)[ids.rng.randrange(len(sim.workers_for(namespace)))].name,
        created,
        owner=owner,
        labels=labels,
        generate_name=f"{job}-",
        phase="Succeeded",
        restartPolicy="OnFailure",
        security={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    )
