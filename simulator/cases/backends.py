"""Guideline 3: Trident backends and the volumes the array-side rules will judge."""

from simulator.cases.common import app_pod, case_created, claim_volume
from simulator.cases.manifest import Cases


def seed(sim, cases: Cases) -> None:
    def tbc(backend_name):
        return f"TridentBackendConfig/trident/backend-{backend_name}"

    def pv_of(claim):
        return f"PersistentVolume/{claim['spec']['volumeName']}"

    created = case_created(sim)
    ledger = sim.find("PersistentVolumeClaim", "acme-db", "ledger")
    media = sim.find("PersistentVolumeClaim", "acme-web", "storefront-media")
    anf_open, _ = sim.add_claim(
        "umbrella-lab", "ml-datasets", "anf-premium", created, access_mode="ReadWriteMany"
    )
    anf_closed, _ = sim.add_claim(
        "acme-web", "assets-anf", "anf-standard", created, access_mode="ReadWriteMany"
    )
    uploads, _ = sim.add_claim("globex-prod", "uploads", "nas-silver", created, access_mode="ReadWriteMany")
    orders, _ = sim.add_claim("globex-prod", "orders-db", "san-bronze", created)
    payments, _ = sim.add_claim("acme-db", "payments-db", "san-gold", created)
    invoices, _ = sim.add_claim("initech-billing", "invoices-db", "solidfire-gold", created)
    events, _ = sim.add_claim("umbrella-lab", "events-db", "san-nvme", created)
    # On the FlexGroup backend, whose export policy is widened for days 14 to 17 (cases/transient.py).
    archive, _ = sim.add_claim(
        "initech-billing", "billing-archive", "nas-flexgroup", created, access_mode="ReadWriteMany"
    )
    for namespace, claim in (
        ("umbrella-lab", anf_open),
        ("acme-web", anf_closed),
        ("globex-prod", uploads),
        ("globex-prod", orders),
        ("acme-db", payments),
        ("initech-billing", invoices),
        ("initech-billing", archive),
        ("umbrella-lab", events),
    ):
        name, node = claim["metadata"]["name"], sim.workers_for(namespace)[0].name
        app_pod(
            sim,
            namespace,
            f"{name}-0",
            node,
            [claim_volume("data", name)],
            pod_security={"fsGroup": 2000} if name == "payments-db" else None,
        )

    def pair(slug, fire, near, pending=None):
        extra = {"pending": pending} if pending else {}
        cases.fire(slug, fire[0], fire[1], fire[2], **extra)
        cases.near_miss(slug, near[0], near[1], near[2], **extra)

    pair(
        "export-allows-foreign-hosts",
        ("umbrella-lab", [tbc("anf-open"), anf_open, pv_of(anf_open)], "ANF exportRule 0.0.0.0/0"),
        (
            "acme-web",
            [tbc("anf-restricted"), anf_closed, pv_of(anf_closed)],
            "ANF exportRule lists only worker nodes",
        ),
    )
    pair(
        "export-allows-foreign-hosts",
        (
            "acme-db",
            [tbc("nas-legacy"), ledger, pv_of(ledger)],
            "static policy k8s_nodes admits 0.0.0.0/0 on the array",
        ),
        (
            "acme-web",
            [tbc("nas-auto"), media, pv_of(media)],
            "per-volume policy lists only the publishing nodes",
        ),
        pending="array",
    )
    pair(
        "export-root-squash-disabled",
        ("acme-db", [tbc("nas-legacy"), ledger, pv_of(ledger)], "k8s_nodes rule superuser=any for 0.0.0.0/0"),
        (
            "acme-web",
            [tbc("nas-auto"), media, pv_of(media)],
            "superuser=any, but only for the cluster's nodes",
        ),
        pending="array",
    )
    pair(
        "san-foreign-initiator",
        (
            "globex-prod",
            [tbc("san-nochap"), orders, pv_of(orders)],
            "its igroup also lists an IQN of no node",
        ),
        (
            "initech-billing",
            [tbc("solidfire"), invoices, pv_of(invoices)],
            "CSI solidfire volumes use CHAP, not access groups",
        ),
        pending="array",
    )
    pair(
        "stale-node-access",
        (
            "acme-db",
            [tbc("nas-legacy"), ledger, pv_of(ledger)],
            "k8s_nodes still lists worker-retiring's address after the node leaves on day 20",
        ),
        ("acme-web", [tbc("nas-auto"), media, pv_of(media)], "Trident drops a departed node's rules"),
        pending="array",
    )
    pair(
        "showmount-enabled",
        ("acme-db", [tbc("nas-legacy"), ledger, pv_of(ledger)], "svm_legacy has showmount enabled"),
        ("acme-web", [tbc("nas-auto"), media, pv_of(media)], "svm_k8s has showmount disabled"),
        pending="array",
    )
    old_cache = sim.find(
        "PersistentVolume",
        "",
        next(e["objects"][0] for e in cases.manifest()["pv-released-retained"]["fires"]).split("/", 1)[1],
    )
    pair(
        "export-policy-shared",
        (
            "acme-db",
            [tbc("nas-legacy"), ledger, pv_of(ledger), old_cache],
            "autoExportPolicy off: acme's and globex's volumes share policy k8s_nodes",
        ),
        ("acme-web", [tbc("nas-auto"), media, pv_of(media)], "autoExportPolicy on: one policy per volume"),
    )
    pair(
        "auto-export-cidrs-open",
        (
            "globex-prod",
            [tbc("nas-auto-open"), uploads, pv_of(uploads)],
            "autoExportCIDRs unset: every node address",
        ),
        ("acme-web", [tbc("nas-auto"), media, pv_of(media)], "autoExportCIDRs limited to the node network"),
    )
    pair(
        "iscsi-without-chap",
        ("globex-prod", [tbc("san-nochap"), orders, pv_of(orders)], "ontap-san with useCHAP false"),
        ("acme-db", [tbc("san-chap"), payments, pv_of(payments)], "ontap-san with useCHAP true"),
    )
    cases.near_miss(
        "iscsi-without-chap",
        "umbrella-lab",
        [tbc("san-nvme"), events, pv_of(events)],
        "NVMe/TCP: iSCSI CHAP does not apply",
    )
    cases.near_miss(
        "uid-gid-not-a-boundary",
        "acme-db",
        [payments, "Pod/acme-db/payments-db-0"],
        "fsGroup on a block (iSCSI) volume: no NFS uid/gid trust involved",
    )
