"""What happens to the simulated cluster over its month, and the churn a real cluster shows
between two looks at it.

Events are fixed offsets from the simulation's start, so a seed always replays the same
history.  Volatile churn (heartbeats, pod restarts) changes only fields the rules never
read; `churn_relevant` (for benchmarks) changes fields they do read.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from simulator import cases as case_events
from simulator import shapes
from simulator.names import pod_ip, timestamp
from simulator.ontap_array import FIXED, WIDENED
from simulator.workloads import add_deployment, add_tenant_namespace

RESTARTS_PER_POD_DAY = 0.01  # a tenth of pods restart about every ten days
TRANSIENT_TENANT = "hooli"


@dataclass(frozen=True)
class Event:
    when: datetime
    description: str
    apply: object  # a callable taking no arguments
    moves_volumes: bool = True  # whether Trident's publications must be brought up to date after it


class Timeline:
    def __init__(self, sim):
        self.sim = sim
        self._pending_from = 0
        self._last_churn = sim.start

        def at(days: int, hours: int) -> datetime:
            return sim.start + timedelta(days=days, hours=hours)

        self.events: list[Event] = sorted(
            [
                Event(at(2, 10), "rollout of acme-web/storefront (new ReplicaSet)", self._rollout_storefront),
                Event(
                    at(3, 14),
                    "privileged pod globex-dev/node-debugger starts",
                    lambda: case_events.transient_privileged_pod(sim, sim.cases, start=True),
                ),
                Event(
                    at(5, 14),
                    "privileged pod globex-dev/node-debugger deleted",
                    lambda: case_events.transient_privileged_pod(sim, sim.cases, start=False),
                ),
                Event(at(6, 9), "PVC acme-db/reports-cache created", self._create_reports_cache),
                Event(at(10, 8), f"tenant {TRANSIENT_TENANT} created", self._create_transient_tenant),
                Event(
                    at(12, 16),
                    "RoleBinding trident/trident-volume-auditors widened to system:authenticated",
                    lambda: case_events.widen_trident_readers(sim, sim.cases, widen=True),
                    False,
                ),
                Event(
                    at(15, 11),
                    "RoleBinding trident/trident-volume-auditors narrowed again",
                    lambda: case_events.widen_trident_readers(sim, sim.cases, widen=False),
                    False,
                ),
                Event(
                    sim.start + WIDENED,
                    "export policy of the FlexGroup backend widened to 0.0.0.0/0 on the array",
                    # The array derives the rule from the clock (simulator/ontap_array.py): the case only.
                    lambda: case_events.flexgroup_export_widened(sim, sim.cases, widen=True),
                    False,
                ),
                Event(
                    sim.start + FIXED,
                    "export policy of the FlexGroup backend narrowed again",
                    lambda: case_events.flexgroup_export_widened(sim, sim.cases, widen=False),
                    False,
                ),
                Event(at(18, 9), "PVC acme-db/reports-cache deleted", self._delete_reports_cache),
                Event(
                    at(19, 10),
                    "storage automation binds PV and Trident backend writes to non-admins, cluster-wide",
                    lambda: case_events.storage_automation_grants(sim, sim.cases, grant=True),
                    False,
                ),
                Event(at(20, 3), "node worker-retiring leaves the cluster", self._retire_node),
                Event(
                    at(23, 16),
                    "storage automation's cluster-wide grants revoked",
                    lambda: case_events.storage_automation_grants(sim, sim.cases, grant=False),
                    False,
                ),
                Event(at(25, 17), f"tenant {TRANSIENT_TENANT} deleted", self._delete_transient_tenant),
                Event(
                    at(28, 10), "rollout of acme-web/storefront (new ReplicaSet)", self._rollout_storefront
                ),
            ],
            key=lambda e: e.when,
        )

    def schedule(self) -> list[tuple[datetime, str]]:
        return [(e.when, e.description) for e in self.events]

    def run_until(self, when: datetime) -> None:
        while self._pending_from < len(self.events) and self.events[self._pending_from].when <= when:
            event = self.events[self._pending_from]
            self.sim.clock = event.when
            event.apply()
            if event.moves_volumes:
                self.sim.sync_publications()
            self._pending_from += 1

    # ------------------------------------------------------------ events

    def _rollout_storefront(self) -> None:
        sim = self.sim
        old = [
            p
            for p in sim.stored("Pod")
            if p["metadata"]["namespace"] == "acme-web"
            and p["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "storefront"
        ]
        for pod in old:
            sim.remove("Pod", "acme-web", pod["metadata"]["name"])
        add_deployment(
            sim,
            "acme-web",
            "storefront",
            len(old),
            sim.clock,
            claim="storefront-media",
            nodes=sorted(p["spec"]["nodeName"] for p in old),
        )

    def _create_reports_cache(self) -> None:
        sim = self.sim
        claim, _ = sim.add_claim("acme-db", "reports-cache", "nas-gold", sim.clock)
        add_deployment(
            sim,
            "acme-db",
            "reports-cache",
            1,
            sim.clock,
            claim=claim["metadata"]["name"],
            nodes=[sim.workers_for("acme-db")[0].name],
        )

    def _delete_reports_cache(self) -> None:
        sim = self.sim
        for pod in list(sim.stored("Pod")):
            if pod["metadata"]["namespace"] == "acme-db" and pod["metadata"]["name"].startswith(
                "reports-cache-"
            ):
                sim.remove("Pod", "acme-db", pod["metadata"]["name"])
        self._delete_claim("acme-db", "reports-cache")

    def _delete_claim(self, namespace: str, name: str) -> None:
        """Delete a PVC; with reclaim policy Delete its PV and TridentVolume go too."""
        sim = self.sim
        claim = sim.find("PersistentVolumeClaim", namespace, name)
        sim.remove("PersistentVolumeClaim", namespace, name)
        volume = sim.find("PersistentVolume", "", claim["spec"].get("volumeName", ""))
        if volume and volume["spec"]["persistentVolumeReclaimPolicy"] == "Delete":
            sim.remove("PersistentVolume", "", volume["metadata"]["name"])
            sim.remove("TridentVolume", shapes.TRIDENT_NAMESPACE, volume["metadata"]["name"])

    def _create_transient_tenant(self) -> None:
        sim = self.sim
        for i, (purpose, psa) in enumerate((("app", "restricted"), ("data", "baseline"))):
            add_tenant_namespace(
                sim,
                f"{TRANSIENT_TENANT}-{purpose}",
                TRANSIENT_TENANT,
                psa,
                10_000 + i,
                sim.clock,
                well_run=sim.sizes.well_run,
            )

    def _delete_transient_tenant(self) -> None:
        sim = self.sim
        doomed = {f"{TRANSIENT_TENANT}-app", f"{TRANSIENT_TENANT}-data"}
        for pod in list(sim.stored("Pod")):
            if pod["metadata"]["namespace"] in doomed:
                sim.remove("Pod", pod["metadata"]["namespace"], pod["metadata"]["name"])
        for claim in list(sim.stored("PersistentVolumeClaim")):
            if claim["metadata"]["namespace"] in doomed:
                self._delete_claim(claim["metadata"]["namespace"], claim["metadata"]["name"])
        for kind in ("Role", "RoleBinding", "NetworkPolicy", "TridentVolumeReference"):
            for obj in list(sim.stored(kind)):
                if obj["metadata"]["namespace"] in doomed:
                    sim.remove(kind, obj["metadata"]["namespace"], obj["metadata"]["name"])
        for namespace in doomed:
            sim.remove("Namespace", "", namespace)

    def _retire_node(self) -> None:
        sim = self.sim
        facts = next(n for n in sim.nodes.values() if n.retiring)
        for pod in list(sim.stored("Pod")):
            if pod["spec"]["nodeName"] == facts.name:
                sim.remove("Pod", pod["metadata"]["namespace"], pod["metadata"]["name"])
        sim.remove("Node", "", facts.name)
        sim.remove("TridentNode", shapes.TRIDENT_NAMESPACE, facts.name)
        sim.forget_node(facts.name)

    # ------------------------------------------------------------ churn

    def churn_volatile(self, when: datetime) -> None:
        """Heartbeats on every node, and restarts of a few pods (new IP, restart count, times)."""
        sim = self.sim
        elapsed_days = (when - self._last_churn).total_seconds() / 86400
        if elapsed_days <= 0:
            return
        self._last_churn = when
        rng = random.Random(f"{sim.seed}/volatile/{when.isoformat()}")
        beat = timestamp(when)
        for node in list(sim.stored("Node")):
            sim.change(node, lambda o: _heartbeat(o, beat))
        running = [p for p in sim.stored("Pod") if p["status"]["phase"] == "Running"]
        restarts = min(len(running), round(len(running) * RESTARTS_PER_POD_DAY * elapsed_days))
        for pod in rng.sample(running, restarts):
            node = sim.nodes[pod["spec"]["nodeName"]]
            sim.change(pod, lambda o, n=node: _restart(o, beat, pod_ip(n.index, rng)))

    def churn_relevant(self, fraction: float) -> int:
        """Change a rule-relevant field of about `fraction` of PVCs, pods and role bindings outside
        the seeded cases' namespaces; returns how many objects changed."""
        sim = self.sim
        rng = random.Random(f"{sim.seed}/relevant/{sim.resource_version}")
        case_namespaces = {
            n for t in ("acme", "globex", "initech", "umbrella") for n in sim.tenants[t].namespaces
        }
        case_namespaces.add("sandbox-jdoe")
        changed = 0
        for kind, mutate in (
            ("PersistentVolumeClaim", _toggle_share),
            ("Pod", _toggle_run_as_user),
            ("RoleBinding", _toggle_oncall),
        ):
            candidates = [o for o in sim.stored(kind) if o["metadata"]["namespace"] not in case_namespaces]
            for obj in rng.sample(candidates, min(len(candidates), round(len(candidates) * fraction))):
                sim.change(obj, mutate)
                changed += 1
        return changed


def _heartbeat(node: dict, beat: str) -> None:
    for condition in node["status"]["conditions"]:
        condition["lastHeartbeatTime"] = beat
    for entry in node["metadata"].get("managedFields", ()):
        if entry.get("subresource") == "status":
            entry["time"] = beat


def _restart(pod: dict, when: str, new_ip: str) -> None:
    status = pod["status"]
    first = status["containerStatuses"][0]
    first["lastState"] = {
        "terminated": {
            "exitCode": 137,
            "reason": "OOMKilled",
            "containerID": first["containerID"],
            "startedAt": first["state"]["running"]["startedAt"],
            "finishedAt": when,
        }
    }
    first["state"] = {"running": {"startedAt": when}}
    first["restartCount"] += 1
    for condition in status["conditions"]:
        if condition["type"] in ("Ready", "ContainersReady", "PodReadyToStartContainers"):
            condition["lastTransitionTime"] = when
    if not pod["spec"].get("hostNetwork"):  # a new sandbox gets a new address
        status["podIP"] = new_ip
        status["podIPs"] = [{"ip": new_ip}]


def _toggle_share(claim: dict) -> None:
    annotations = claim["metadata"].setdefault("annotations", {})
    if annotations.pop(shapes.SHARE_TO, None) is None:
        annotations[shapes.SHARE_TO] = claim["metadata"]["namespace"]


def _toggle_run_as_user(pod: dict) -> None:
    security = pod["spec"]["securityContext"]
    security["runAsUser"] = 1001 if security.get("runAsUser") == 1000 else 1000


def _toggle_oncall(binding: dict) -> None:
    oncall = shapes.subject("User", f"oncall@{binding['metadata']['namespace']}.example.com")
    subjects = binding["subjects"]
    if oncall in subjects:
        subjects.remove(oncall)
    else:
        subjects.append(oncall)
