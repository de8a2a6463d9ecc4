"""Who may see or write PVs, Trident objects and namespaces; tenants with cluster scope."""

from simulator import shapes
from simulator.cases.common import case_created
from simulator.cases.manifest import Cases
from simulator.cases.transient import AUDITORS_NARROW
from simulator.platform import PLATFORM_ADMINS
from simulator.shapes import rule, subject


def seed(sim, cases: Cases) -> None:
    created = case_created(sim)

    def cluster_role(name, rules):
        return sim.put(shapes.cluster_role(sim.meta(name, created=created), rules))

    def crb(name, role_name, subjects):
        return sim.put(
            shapes.binding(
                "ClusterRoleBinding", sim.meta(name, created=created), "ClusterRole", role_name, subjects
            )
        )

    def rb(namespace, name, role_kind, role_name, subjects):
        return sim.put(
            shapes.binding("RoleBinding", sim.meta(name, namespace, created), role_kind, role_name, subjects)
        )

    read = ("get", "list", "watch")
    write = ("create", "update", "patch")
    storage_team = subject("Group", "storage-team")

    viewer = cluster_role(
        "storage-viewer",
        [rule([""], ("persistentvolumes",), read), rule(["storage.k8s.io"], ("storageclasses",), read)],
    )
    viewers = crb("storage-viewers", "storage-viewer", [storage_team])
    cases.fire("pv-visible-to-non-admins", None, [viewer, viewers], "group storage-team may list PVs")
    cases.near_miss(
        "pv-visible-to-non-admins",
        None,
        [
            "ClusterRoleBinding/system:controller:persistent-volume-binder",
            "ClusterRoleBinding/trident-controller",
        ],
        "control-plane identity and Trident's service account",
    )
    legacy = crb("legacy-pv-readers", "pv-reader-legacy", [subject("Group", "contractors")])
    cases.near_miss(
        "pv-visible-to-non-admins",
        None,
        [legacy],
        "roleRef names a ClusterRole that does not exist: grants nothing",
        dangling=["ClusterRole/pv-reader-legacy"],
    )

    # PV writes and Trident's backends are granted by the storage automation for days 19 to 23 only
    # (cases/transient.py: the cluster's RBAC mistake); the roles stay.
    cluster_role("pv-provisioner", [rule([""], ("persistentvolumes",), (*read, *write))])
    cluster_role(
        "trident-backend-editor", [rule(["trident.netapp.io"], ("tridentbackendconfigs",), (*read, *write))]
    )
    local = sim.put(
        shapes.role(sim.meta("pv-editor", "acme-db", created), [rule([""], ("persistentvolumes",), write)])
    )
    local_binding = rb(
        "acme-db", "pv-editor", "Role", "pv-editor", [subject("User", "dev1@acme.example.com")]
    )
    cases.near_miss(
        "pv-writable-by-non-admins",
        "acme-db",
        [local, local_binding],
        "a namespaced Role cannot grant cluster-scoped persistentvolumes",
    )

    bob = subject("User", "bob@globex.example.com")
    bob_admin = rb("globex-prod", "bob-admin", "ClusterRole", "admin", [bob])
    exec_role = cluster_role(
        "pod-exec-anywhere", [rule([""], ("pods",), read), rule([""], ("pods/exec",), ("create",))]
    )
    exec_binding = crb("globex-ops-exec", "pod-exec-anywhere", [bob])
    cases.fire(
        "tenant-has-cluster-scope",
        "globex-prod",
        [bob_admin, exec_role, exec_binding],
        "bob administers globex-prod and may exec into pods in every namespace",
    )
    alice = subject("User", "alice@acme.example.com")
    alice_admin = rb("acme-web", "alice-admin", "ClusterRole", "admin", [alice])
    lister = cluster_role("namespace-lister", [rule([""], ("namespaces",), read)])
    alice_lister = crb("acme-namespace-lister", "namespace-lister", [alice])
    cases.near_miss(
        "tenant-has-cluster-scope",
        "acme-web",
        [alice_admin, lister, alice_lister],
        "alice's cluster-wide grant only lists namespaces",
    )

    self_service = cluster_role("namespace-self-service", [rule([""], ("namespaces",), (*read, *write))])
    devops = crb("initech-devops-namespaces", "namespace-self-service", [subject("Group", "initech-devops")])
    cases.fire(
        "namespace-labels-writable", None, [self_service, devops], "initech-devops may patch namespaces"
    )
    cases.near_miss(
        "namespace-labels-writable", None, [lister, alice_lister], "read-only access to namespaces"
    )

    reader = cluster_role("trident-volume-reader", [rule(["trident.netapp.io"], ("tridentvolumes",), read)])
    auditors = rb(
        "trident",
        "storage-auditors",
        "ClusterRole",
        "trident-volume-reader",
        [subject("Group", "storage-auditors")],
    )
    invoices = sim.find("PersistentVolumeClaim", "initech-billing", "invoices-db")
    cases.fire(
        "chap-secrets-readable",
        "initech-billing",
        [reader, auditors, invoices],
        "group storage-auditors may read TridentVolumes holding SolidFire CHAP secrets (Trident 25.02)",
    )
    admins = rb(
        "trident",
        "trident-volume-auditors",
        "ClusterRole",
        "trident-volume-reader",
        [subject("Group", PLATFORM_ADMINS)],
    )
    cases.add_transient(
        AUDITORS_NARROW,
        "chap-secrets-readable",
        "near_misses",
        "trident",
        [reader, admins],
        "only cluster administrators",
    )
    tenant_reader = sim.put(
        shapes.role(
            sim.meta("tridentvolume-reader", "acme-web", created),
            [rule(["trident.netapp.io"], ("tridentvolumes",), read)],
        )
    )
    tenant_binding = rb(
        "acme-web",
        "tridentvolume-reader",
        "Role",
        "tridentvolume-reader",
        [subject("User", "dev2@acme.example.com")],
    )
    cases.near_miss(
        "chap-secrets-readable",
        "acme-web",
        [tenant_reader, tenant_binding],
        "grants tridentvolumes in acme-web, where there are none",
    )
