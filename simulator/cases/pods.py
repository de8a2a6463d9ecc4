"""Guideline 2: privileged pods, host paths, host namespaces, host network, Pod Security levels."""

from simulator import shapes
from simulator.cases.common import app_pod, case_created
from simulator.cases.manifest import Cases
from simulator.shapes import container
from simulator.workloads import RESTRICTED_CONTAINER


def seed(sim, cases: Cases) -> None:
    # Every pod that escapes to its node runs on the lab node, with the other lab namespaces' volumes
    # (umbrella's, initech's, sandbox-jdoe's): their exposure stays among the lab's namespaces.
    lab = sim.lab_node
    acme = sim.workers_for("acme-web")[0].name
    agent = next(
        p
        for p in sim.stored("Pod")
        if p["metadata"]["namespace"] == "trident"
        and p["spec"]["nodeName"] == lab
        and "DaemonSet" in str(p["metadata"].get("ownerReferences"))
    )
    shipper = next(p for p in sim.stored("Pod") if p["metadata"]["namespace"] == "logging")
    proxy = next(p for p in sim.stored("Pod") if p["metadata"]["name"].startswith("kube-proxy-"))

    debug = app_pod(
        sim,
        "globex-dev",
        "debug-tools-0",
        lab,
        security={"privileged": True},
        image="docker.io/nicolaka/netshoot:v0.13",
    )
    cases.fire(
        "privileged-container",
        "globex-dev",
        [debug],
        f"privileged on {lab}, which mounts other tenants' volumes (critical)",
    )
    tuner = sim.add_pod(
        "globex-dev",
        "sysctl-tuner",
        [container("app", "registry.example.com/globex-dev/app:2.0", [], RESTRICTED_CONTAINER)],
        lab,
        case_created(sim),
        init_containers=[
            container(
                "sysctl",
                "docker.io/library/busybox:1.36",
                [],
                {"privileged": True},
                command=["sysctl", "-w", "net.core.somaxconn=4096"],
            )
        ],
    )
    cases.fire("privileged-container", "globex-dev", [tuner], "privileged init container")
    cases.near_miss(
        "privileged-container", "trident", [agent], "Trident's node plugin: platform, privileged by design"
    )
    escalation = app_pod(
        sim,
        "umbrella-lab",
        "builder-0",
        lab,
        security={"allowPrivilegeEscalation": True, "runAsNonRoot": True},
    )
    cases.near_miss(
        "privileged-container", "umbrella-lab", [escalation], "allowPrivilegeEscalation is not privileged"
    )

    lun = {
        "targetPortal": "198.51.100.21:3260",
        "iqn": sim.backends["san-nochap"].target_iqn,
        "lun": 0,
        "fsType": "ext4",
        "readOnly": True,
    }
    iscsi = app_pod(sim, "globex-dev", "iscsi-debug-0", lab, [{"name": "lun", "iscsi": lun}])
    cases.fire(
        "inline-storage-volume", "globex-dev", [iscsi], "inline iscsi volume on san-nochap's LIF (critical)"
    )
    ephemeral = app_pod(
        sim,
        "sandbox-jdoe",
        "ephemeral-scratch-0",
        lab,
        [
            {
                "name": "scratch",
                "csi": {"driver": shapes.TRIDENT_DRIVER, "volumeAttributes": {"backendType": "ontap-nas"}},
            }
        ],
    )
    cases.fire(
        "inline-storage-volume",
        "sandbox-jdoe",
        [ephemeral],
        "inline CSI volume of Trident's driver: admitted even under PSA restricted (high)",
    )
    vault = app_pod(
        sim,
        "acme-web",
        "payments-api-0",
        acme,
        [
            {
                "name": "secrets",
                "csi": {
                    "driver": "secrets-store.csi.k8s.io",
                    "readOnly": True,
                    "volumeAttributes": {"secretProviderClass": "vault-payments"},
                },
            }
        ],
    )
    cases.near_miss(
        "inline-storage-volume", "acme-web", [vault], "inline CSI of the secrets-store driver: not storage"
    )

    def host_path(name, path):
        return {"name": name, "hostPath": {"path": path, "type": ""}}

    inspector = app_pod(
        sim, "globex-dev", "node-inspector-0", lab, [host_path("pods", "/var/lib/kubelet/pods")]
    )
    cases.fire("host-path-volume", "globex-dev", [inspector], "hostPath inside the kubelet root (critical)")
    sneaky = app_pod(
        sim,
        "initech-reports",
        "log-reader-0",
        lab,
        [host_path("logs", "/var/log/../lib/./kubelet//pods/")],
    )
    cases.fire(
        "host-path-volume", "initech-reports", [sneaky], "normalises to /var/lib/kubelet/pods (critical)"
    )
    cache = app_pod(
        sim,
        "initech-reports",
        "cache-warmer-0",
        lab,
        [host_path("cache", "/srv/cache")],
    )
    cases.fire("host-path-volume", "initech-reports", [cache], "hostPath /srv/cache (medium)")
    cases.near_miss("host-path-volume", "logging", [shipper], "log shipper reading /var/log: platform")
    memory = app_pod(
        sim, "acme-web", "session-cache-0", acme, [{"name": "cache", "emptyDir": {"medium": "Memory"}}]
    )
    cases.near_miss("host-path-volume", "acme-web", [memory], "emptyDir, even in memory, is not a hostPath")

    profiler = app_pod(sim, "initech-reports", "perf-profiler-0", lab, hostPID=True)
    cases.fire("host-namespace-escape", "initech-reports", [profiler], "hostPID: true")
    fuse = app_pod(
        sim, "globex-dev", "fuse-mounter-0", lab, security={"capabilities": {"add": ["SYS_ADMIN"]}}
    )
    cases.fire("host-namespace-escape", "globex-dev", [fuse], "capabilities.add SYS_ADMIN (can mount)")
    proxy_pod = app_pod(
        sim,
        "umbrella-lab",
        "web-proxy-0",
        lab,
        security={**RESTRICTED_CONTAINER, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
    )
    cases.near_miss(
        "host-namespace-escape", "umbrella-lab", [proxy_pod], "NET_BIND_SERVICE only, hostPID unset"
    )
    cases.near_miss(
        "host-namespace-escape", "trident", [agent], "hostIPC is not hostPID; and this is platform"
    )

    probe = app_pod(sim, "initech-reports", "net-probe-0", lab, hostNetwork=True)
    cases.fire("host-network", "initech-reports", [probe], f"hostNetwork: speaks to the arrays as {lab}")
    gateway = app_pod(sim, "globex-dev", "legacy-gateway-0", lab)
    gateway = sim.change(
        gateway,
        lambda o: o["spec"]["containers"][0].update(
            ports=[{"containerPort": 8443, "hostPort": 8443, "name": "https", "protocol": "TCP"}]
        ),
    )
    cases.near_miss(
        "host-network", "globex-dev", [gateway], "hostPort without hostNetwork keeps the pod's own address"
    )
    cases.near_miss("host-network", "kube-system", [proxy], "kube-proxy: platform")

    for namespace, why in (("globex-dev", "enforce=privileged"), ("initech-reports", "no enforce label")):
        cases.fire("namespace-admits-privileged", namespace, [f"Namespace/{namespace}"], why)
    for namespace, why in (
        ("acme-web", "enforce=restricted"),
        ("acme-db", "enforce=baseline (inline nfs still admitted)"),
        ("trident", "platform namespace"),
    ):
        cases.near_miss("namespace-admits-privileged", namespace, [f"Namespace/{namespace}"], why)
