"""The platform every cluster has: system namespaces, cluster-wide RBAC, node agents, control plane.

These are expected to be privileged (the Trident node plugin mounts the kubelet directory
by design): the rules treat them as platform, not as violations.
"""

from datetime import timedelta

from simulator import shapes
from simulator.shapes import container, mount, owner_ref, rule, subject

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
NODE_AGENT_NAMESPACES = ("trident", "calico-system", "logging")  # Trident, the CNI, the log shipper
PLATFORM_ADMINS = "platform-admins"  # bound to cluster-admin: the cluster administrators

_AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"
_READ = ("get", "list", "watch")
_WRITE = ("create", "delete", "deletecollection", "patch", "update")
_CORE_WORKLOAD = (
    "pods",
    "pods/log",
    "pods/exec",
    "pods/attach",
    "services",
    "configmaps",
    "secrets",
    "persistentvolumeclaims",
    "serviceaccounts",
    "endpoints",
)


def build(sim) -> None:
    created = sim.aged(500, 450)
    for name in SYSTEM_NAMESPACES:
        sim.add_namespace(name, None, None, created)
    for name in NODE_AGENT_NAMESPACES:
        sim.add_namespace(name, None, "privileged", created + timedelta(days=2))
    _cluster_roles(sim, created)
    _cluster_role_bindings(sim, created)
    _control_plane_pods(sim)
    _node_agents(sim, created + timedelta(days=2))
    _controllers(sim, created + timedelta(days=2))


def _cluster_roles(sim, created) -> None:
    def put(name, rules, aggregate_to=None, selectors=None, labels=None):
        labels = dict(labels or {"kubernetes.io/bootstrapping": "rbac-defaults"})
        if aggregate_to:
            labels[_AGGREGATE + aggregate_to] = "true"
        annotations = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
        sim.put(
            shapes.cluster_role(
                sim.meta(name, created=created, labels=labels, annotations=annotations), rules, selectors
            )
        )

    view_rules = [
        rule(
            [""],
            _CORE_WORKLOAD[:1]
            + ("services", "configmaps", "persistentvolumeclaims", "endpoints", "serviceaccounts"),
            _READ,
        ),
        rule(["apps"], ("deployments", "statefulsets", "daemonsets", "replicasets"), _READ),
        rule(["batch"], ("jobs", "cronjobs"), _READ),
    ]
    edit_rules = [
        rule([""], _CORE_WORKLOAD, _WRITE),
        rule(["apps"], ("deployments", "statefulsets", "daemonsets", "replicasets"), _WRITE),
        rule(["batch"], ("jobs", "cronjobs"), _WRITE),
    ]
    admin_rules = [
        rule(["rbac.authorization.k8s.io"], ("roles", "rolebindings"), (*_READ, *_WRITE)),
        rule(["authorization.k8s.io"], ("localsubjectaccessreviews",), ("create",)),
    ]
    put("cluster-admin", [rule(["*"], ["*"], ["*"]), {"nonResourceURLs": ["*"], "verbs": ["*"]}])
    put("system:aggregate-to-view", view_rules, aggregate_to="view")
    put("system:aggregate-to-edit", edit_rules, aggregate_to="edit")
    put("system:aggregate-to-admin", admin_rules, aggregate_to="admin")
    # The controller manager fills aggregated roles with the rules of the roles they select.
    put("view", view_rules, aggregate_to="edit", selectors=[{_AGGREGATE + "view": "true"}])
    put("edit", view_rules + edit_rules, aggregate_to="admin", selectors=[{_AGGREGATE + "edit": "true"}])
    put("admin", view_rules + edit_rules + admin_rules, selectors=[{_AGGREGATE + "admin": "true"}])
    # An aggregated role whose source roles do not exist yet: the controller has filled in nothing.
    put(
        "monitoring-edit",
        [],
        selectors=[{"rbac.example.com/aggregate-to-monitoring-edit": "true"}],
        labels={"app.kubernetes.io/part-of": "monitoring"},
    )
    put(
        "system:node",
        [
            rule(
                [""],
                ("persistentvolumes", "persistentvolumeclaims", "pods", "secrets", "configmaps"),
                ("get",),
            ),
            rule(["storage.k8s.io"], ("volumeattachments", "csidrivers"), ("get", "list", "watch")),
        ],
    )
    put(
        "system:kube-scheduler",
        [
            rule([""], ("pods", "nodes", "persistentvolumes", "persistentvolumeclaims"), _READ),
            rule([""], ("pods/binding", "bindings"), ("create",)),
        ],
    )
    put(
        "system:kube-controller-manager",
        [rule(["*"], ["*"], _READ), rule([""], ("secrets", "serviceaccounts"), ("create", "update"))],
    )
    put(
        "system:controller:persistent-volume-binder",
        [
            rule([""], ("persistentvolumes",), ("create", "delete", "get", "list", "update", "watch")),
            rule([""], ("persistentvolumeclaims",), ("get", "list", "update", "watch")),
        ],
    )
    put(
        "trident-controller",
        [
            rule(
                [""],
                ("persistentvolumes", "persistentvolumeclaims"),
                (*_READ, "create", "delete", "update", "patch"),
            ),
            rule([""], ("secrets",), (*_READ, "create", "delete", "update", "patch")),
            rule(["trident.netapp.io"], ("*",), (*_READ, "create", "delete", "update", "patch")),
        ],
        labels={"app": "controller.csi.trident.netapp.io"},
    )
    put(
        "calico-node",
        [
            rule([""], ("pods", "nodes", "namespaces"), ("get",)),
            rule(["networking.k8s.io"], ("networkpolicies",), _READ),
        ],
        labels={"k8s-app": "calico-node"},
    )


def _cluster_role_bindings(sim, created) -> None:
    def put(name, role, subjects):
        labels = (
            {"kubernetes.io/bootstrapping": "rbac-defaults"}
            if name.startswith(("system:", "cluster-"))
            else None
        )
        sim.put(
            shapes.binding(
                "ClusterRoleBinding",
                sim.meta(name, created=created, labels=labels),
                "ClusterRole",
                role,
                subjects,
            )
        )

    put("cluster-admin", "cluster-admin", [subject("Group", "system:masters")])
    put("platform-admins", "cluster-admin", [subject("Group", PLATFORM_ADMINS)])
    put("system:kube-scheduler", "system:kube-scheduler", [subject("User", "system:kube-scheduler")])
    put(
        "system:kube-controller-manager",
        "system:kube-controller-manager",
        [subject("User", "system:kube-controller-manager")],
    )
    put("system:node", "system:node", [subject("Group", "system:nodes")])
    put(
        "system:controller:persistent-volume-binder",
        "system:controller:persistent-volume-binder",
        [subject("ServiceAccount", "persistent-volume-binder", "kube-system")],
    )
    put(
        "trident-controller",
        "trident-controller",
        [subject("ServiceAccount", "trident-controller", "trident")],
    )
    put("calico-node", "calico-node", [subject("ServiceAccount", "calico-node", "calico-system")])


def _host_path(name, path, kind="Directory"):
    return {"name": name, "hostPath": {"path": path, "type": kind}}


def _daemonset_pod(
    sim, facts, namespace, ds, uid, revision, containers, volumes, service_account, created, **host
) -> None:
    sim.add_pod(
        namespace,
        f"{ds}-{sim.ids.suffix()}",
        containers,
        facts.name,
        created,
        owner=owner_ref("DaemonSet", ds, uid),
        generate_name=f"{ds}-",
        labels={
            "app.kubernetes.io/name": ds,
            "controller-revision-hash": revision,
            "pod-template-generation": "1",
        },
        service_account=service_account,
        node_agent=True,
        **host,
    )


def _node_agents(sim, created) -> None:
    ids = sim.ids
    agents = {
        name: (ids.uid(), ids.suffix(10))
        for name in ("kube-proxy", "calico-node", "fluent-bit", "trident-node-linux")
    }
    privileged = {"privileged": True}
    for facts in sim.nodes.values():
        _daemonset_pod(
            sim,
            facts,
            "kube-system",
            "kube-proxy",
            *agents["kube-proxy"],
            [
                container(
                    "kube-proxy",
                    f"registry.k8s.io/kube-proxy:{shapes.KUBERNETES_VERSION}",
                    [mount("lib-modules", "/lib/modules", True), mount("xtables-lock", "/run/xtables.lock")],
                    privileged,
                    command=["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf"],
                )
            ],
            [
                _host_path("lib-modules", "/lib/modules", ""),
                _host_path("xtables-lock", "/run/xtables.lock", "FileOrCreate"),
            ],
            "kube-proxy",
            created,
            hostNetwork=True,
        )
        _daemonset_pod(
            sim,
            facts,
            "calico-system",
            "calico-node",
            *agents["calico-node"],
            [
                container(
                    "calico-node",
                    "quay.io/calico/node:v3.28.2",
                    [
                        mount("var-run-calico", "/var/run/calico"),
                        mount("lib-modules", "/lib/modules", True),
                        mount("cni-net-dir", "/host/etc/cni/net.d"),
                    ],
                    privileged,
                )
            ],
            [
                _host_path("var-run-calico", "/var/run/calico"),
                _host_path("lib-modules", "/lib/modules", ""),
                _host_path("cni-net-dir", "/etc/cni/net.d"),
            ],
            "calico-node",
            created,
            hostNetwork=True,
        )
        _daemonset_pod(
            sim,
            facts,
            "logging",
            "fluent-bit",
            *agents["fluent-bit"],
            [
                container(
                    "fluent-bit",
                    "cr.fluentbit.io/fluent/fluent-bit:3.1.9",
                    [mount("varlog", "/var/log", True), mount("containers", "/var/lib/containerd", True)],
                    {"readOnlyRootFilesystem": True},
                    ports=[{"containerPort": 2020, "name": "http", "protocol": "TCP"}],
                )
            ],
            [_host_path("varlog", "/var/log", ""), _host_path("containers", "/var/lib/containerd", "")],
            "fluent-bit",
            created,
        )
        _daemonset_pod(
            sim,
            facts,
            "trident",
            "trident-node-linux",
            *agents["trident-node-linux"],
            [
                container(
                    "trident-main",
                    f"docker.io/netapp/trident:{shapes.TRIDENT_VERSION}",
                    [
                        mount("plugin-dir", "/plugin"),
                        mount("pods-mount-dir", "/var/lib/kubelet/pods", propagation="Bidirectional"),
                        mount("dev-dir", "/dev"),
                        mount("host-sys", "/sys"),
                        mount("host-root", "/host", True),
                        mount("iscsi-dir", "/var/lib/iscsi", propagation="Bidirectional"),
                    ],
                    {"privileged": True, "allowPrivilegeEscalation": True},
                    command=["/trident_orchestrator", "--no_persistence", "--csi_role=node"],
                ),
                container(
                    "node-driver-registrar",
                    "registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.12.0",
                    [mount("plugin-dir", "/plugin"), mount("registration-dir", "/registration")],
                ),
            ],
            [
                _host_path(
                    "plugin-dir", "/var/lib/kubelet/plugins/csi.trident.netapp.io/", "DirectoryOrCreate"
                ),
                _host_path("registration-dir", "/var/lib/kubelet/plugins_registry/"),
                _host_path("pods-mount-dir", "/var/lib/kubelet/pods"),
                _host_path("dev-dir", "/dev"),
                _host_path("host-sys", "/sys"),
                _host_path("host-root", "/"),
                _host_path("iscsi-dir", "/var/lib/iscsi", "DirectoryOrCreate"),
            ],
            "trident-node-linux",
            created,
            hostNetwork=True,
            hostIPC=True,
        )


def _control_plane_pods(sim) -> None:
    for facts in sim.nodes.values():
        if not facts.control_plane:
            continue
        owner = owner_ref("Node", facts.name, facts.uid, api_version="v1")
        owner.pop("blockOwnerDeletion")
        for component in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
            image = (
                "registry.k8s.io/etcd:3.5.15-0"
                if component == "etcd"
                else f"registry.k8s.io/{component}:{shapes.KUBERNETES_VERSION}"
            )
            sim.add_pod(
                "kube-system",
                f"{component}-{facts.name}",
                [
                    container(
                        component,
                        image,
                        [mount("k8s-certs", "/etc/kubernetes/pki", True)],
                        command=[component],
                    )
                ],
                facts.name,
                sim.aged(30, 2),
                owner=owner,
                labels={"component": component, "tier": "control-plane"},
                annotations={
                    "kubernetes.io/config.source": "file",
                    "kubernetes.io/config.hash": sim.ids.hex(32),
                },
                volumes=[_host_path("k8s-certs", "/etc/kubernetes/pki", "DirectoryOrCreate")],
                node_agent=True,
                hostNetwork=True,
                security={"seccompProfile": {"type": "RuntimeDefault"}},
            )


def _controllers(sim, created) -> None:
    workers = sim.workers()
    for namespace, deployment, replicas, image, account in (
        ("kube-system", "coredns", 2, "registry.k8s.io/coredns/coredns:v1.11.3", "coredns"),
        (
            "trident",
            "trident-controller",
            1,
            f"docker.io/netapp/trident:{shapes.TRIDENT_VERSION}",
            "trident-controller",
        ),
    ):
        rs_hash = sim.ids.template_hash()
        rs_uid = sim.ids.uid()
        for i in range(replicas):
            suffix = sim.ids.suffix()
            sim.add_pod(
                namespace,
                f"{deployment}-{rs_hash}-{suffix}",
                [
                    container(
                        deployment.split("-")[0],
                        image,
                        [],
                        {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
                    )
                ],
                workers[i % len(workers)].name,
                created,
                owner=owner_ref("ReplicaSet", f"{deployment}-{rs_hash}", rs_uid),
                labels={"app.kubernetes.io/name": deployment, "pod-template-hash": rs_hash},
                generate_name=f"{deployment}-{rs_hash}-",
                service_account=account,
            )
