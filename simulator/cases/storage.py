"""Guideline 1: shared, inline, unclaimed, released, annotated-share and orphaned volumes."""

from simulator import shapes
from simulator.cases.common import NAS_LIF, app_pod, case_created, claim_volume, static_claim, static_nfs_pv
from simulator.cases.manifest import Cases
from simulator.shapes import SHARE_FROM, SHARE_TO
from simulator.workloads import add_deployment


def seed(sim, cases: Cases) -> None:
    lab = sim.lab_node  # where the lab's namespaces run (simulator/world.py LAB_NAMESPACES)

    def node_of(namespace):
        return sim.workers_for(namespace)[0].name

    created = case_created(sim)
    # The storefront: acme's shared media, mounted on two of acme's workers.
    media, _ = sim.add_claim("acme-web", "storefront-media", "nas-gold", created, access_mode="ReadWriteMany")
    nodes = [w.name for w in sim.workers_for("acme-web")][:2]
    add_deployment(sim, "acme-web", "storefront", 2, created, claim="storefront-media", nodes=nodes)

    # One NFS export reached by a PV of initech and by an inline volume in umbrella's pod.
    reports_pv = static_nfs_pv(sim, "nfs-reports", "/exports/reports")
    reports = static_claim(sim, "initech-reports", "reports", "nfs-reports")
    reports_pv = sim.change(
        reports_pv, lambda o: o["spec"].__setitem__("claimRef", shapes.claim_ref(reports))
    )
    viewer = app_pod(sim, "initech-reports", "report-viewer-0", lab, [claim_volume("reports", "reports")])
    scraper = app_pod(
        sim,
        "umbrella-lab",
        "report-scraper-0",
        lab,
        [{"name": "reports", "nfs": {"server": NAS_LIF, "path": "/exports/reports/2024"}}],
    )
    cases.fire(
        "volume-shared-across-tenants",
        "initech-reports",
        [reports_pv, reports, viewer, scraper],
        "umbrella's pod mounts /exports/reports/2024 inline, nested under initech's static PV export",
    )
    cases.fire(
        "inline-storage-volume",
        "umbrella-lab",
        [scraper],
        f"inline nfs volume on {NAS_LIF}, a known data LIF (critical); reaches initech's reports",
    )

    # A crafted PV that points at acme's Trident volume, claimed from globex.
    ledger, ledger_pv = sim.add_claim("acme-db", "ledger", "nas-legacy", created, access_mode="ReadWriteMany")
    ledger_pod = app_pod(
        sim,
        "acme-db",
        "ledger-0",
        node_of("acme-db"),
        [claim_volume("ledger", "ledger")],
        pod_security={"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 2000},
    )
    imported = _crafted_copy(sim, ledger_pv, "globex-prod", "imported-ledger")
    importer = app_pod(
        sim, "globex-prod", "importer-0", node_of("globex-prod"), [claim_volume("data", "imported-ledger")]
    )
    cases.fire(
        "volume-shared-across-tenants",
        "acme-db",
        [ledger, ledger_pv, imported[0], imported[1], importer],
        "a hand-made PV in globex names acme's backend volume (same backendUUID + internalName)",
    )
    cases.fire(
        "uid-gid-not-a-boundary",
        "acme-db",
        [ledger, ledger_pod],
        "pod sets runAsUser/fsGroup on an NFS volume of nas-legacy (v3 enabled on its SVM)",
        pending="array",
    )

    # Same export, one tenant; and a sibling path that merely shares a prefix.
    archive_pvs = []
    for namespace, pv_name in (("acme-web", "nfs-acme-archive"), ("acme-db", "nfs-acme-archive-ro")):
        volume = static_nfs_pv(sim, pv_name, "/exports/acme-archive")
        claim = static_claim(sim, namespace, "archive", pv_name)
        archive_pvs += [
            sim.change(volume, lambda o, c=claim: o["spec"].__setitem__("claimRef", shapes.claim_ref(c))),
            claim,
        ]
    cases.near_miss(
        "volume-shared-across-tenants",
        "acme-web",
        archive_pvs,
        "two PVs on one export, but both claims are in tenant acme",
    )
    old_reports = static_nfs_pv(sim, "nfs-reports-old", "/exports/reports-old")
    old_claim = static_claim(sim, "globex-dev", "reports-old", "nfs-reports-old")
    old_reports = sim.change(
        old_reports, lambda o: o["spec"].__setitem__("claimRef", shapes.claim_ref(old_claim))
    )
    cases.near_miss(
        "volume-shared-across-tenants",
        "globex-dev",
        [old_reports, old_claim, reports_pv],
        "/exports/reports-old only shares a string prefix with /exports/reports: not nested",
    )

    # Unclaimed PVs: a fresh static one, one that held data, one pre-bound to a namespace that is gone.
    scratch = static_nfs_pv(sim, "nfs-scratch-01", "/exports/scratch-01", phase="Available")
    cases.fire(
        "pv-available-unclaimed", None, [scratch], "static PV, Available, no claimRef (low: never bound)"
    )
    uploads, uploads_pv = sim.add_claim("globex-prod", "old-uploads", "nas-gold", case_created(sim))
    sim.remove("PersistentVolumeClaim", "globex-prod", "old-uploads")
    uploads_pv = sim.change(uploads_pv, _unclaim)
    cases.fire(
        "pv-available-unclaimed",
        "globex-prod",
        [uploads_pv, f"TridentVolume/trident/{uploads_pv['metadata']['name']}"],
        "a Trident volume with globex's data, claimRef removed: the next matching PVC anywhere gets it",
    )
    prebound = static_nfs_pv(
        sim,
        "nfs-prebound-old-team",
        "/exports/old-team",
        phase="Available",
        claim_ref={"kind": "PersistentVolumeClaim", "namespace": "old-team", "name": "data"},
    )
    cases.fire(
        "pv-available-unclaimed",
        None,
        [prebound],
        "claimRef pre-binds it to namespace old-team, which does not exist",
    )
    reserved = static_nfs_pv(
        sim,
        "nfs-reserved-acme",
        "/exports/acme-reserved",
        phase="Available",
        claim_ref={"kind": "PersistentVolumeClaim", "namespace": "acme-web", "name": "reserved"},
    )
    cases.near_miss(
        "pv-available-unclaimed",
        "acme-web",
        [reserved],
        "pre-bound by claimRef to acme-web/reserved: only that namespace can claim it",
    )

    # Released + Retain: data outlives its claim.
    _, cache_pv = sim.add_claim("globex-prod", "old-cache", "nas-legacy", case_created(sim), reclaim="Retain")
    sim.remove("PersistentVolumeClaim", "globex-prod", "old-cache")
    cache_pv = sim.change(
        cache_pv,
        lambda o: o["status"].update(
            phase="Released", lastPhaseTransitionTime=shapes.timestamp(sim.aged(30))
        ),
    )
    cases.fire(
        "pv-released-retained",
        "globex-prod",
        [cache_pv],
        "Released, Retain; its claim globex-prod/old-cache is gone",
    )
    cases.fire(
        "orphaned-backend-volume",
        "globex-prod",
        [cache_pv, f"TridentVolume/trident/{cache_pv['metadata']['name']}"],
        "Released PV whose backend volume the array still exports",
        pending="array",
    )
    kept, kept_pv = sim.add_claim(
        "initech-billing", "ledger-archive", "nas-gold", case_created(sim), reclaim="Retain"
    )
    cases.near_miss(
        "pv-released-retained", "initech-billing", [kept, kept_pv], "Retain, but still Bound to its claim"
    )
    scratch_claim, scratch_pv = sim.add_claim("umbrella-lab", "scratch", "nas-gold", case_created(sim))
    tvol = sim.find("TridentVolume", "trident", scratch_pv["metadata"]["name"])
    tvol = sim.change(tvol, lambda o: o.update(orphaned=True))
    cases.near_miss(
        "orphaned-backend-volume",
        "umbrella-lab",
        [scratch_claim, scratch_pv, tvol],
        "TridentVolume marked orphaned: Trident lost the array object (a broken link, not this finding)",
    )

    _share_cases(sim, cases)


def _crafted_copy(sim, victim_pv: dict, namespace: str, claim_name: str) -> tuple[dict, dict]:
    """A PV someone wrote by hand, reusing another volume's CSI handle and attributes."""
    created = case_created(sim)
    claim = sim.put(
        shapes.pvc(
            sim.meta(claim_name, namespace, created, annotations=shapes.bound_pvc_annotations(None)),
            None,
            "10Gi",
            "ReadWriteMany",
            f"{namespace}-{claim_name}",
        )
    )
    source = {"csi": {k: v for k, v in victim_pv["spec"]["csi"].items()}}
    source["csi"]["volumeAttributes"] = {
        k: v
        for k, v in source["csi"]["volumeAttributes"].items()
        if not k.startswith("storage.kubernetes.io")
    }
    volume = sim.put(
        shapes.pv(
            sim.meta(
                f"{namespace}-{claim_name}", created=created, finalizers=["kubernetes.io/pv-protection"]
            ),
            source,
            "10Gi",
            "ReadWriteMany",
            shapes.claim_ref(claim),
            "",
            "Retain",
            "Bound",
            created,
        )
    )
    return claim, volume


def _unclaim(pv: dict) -> None:
    del pv["spec"]["claimRef"]
    pv["status"]["phase"] = "Available"


def _share_cases(sim, cases: Cases) -> None:
    created = case_created(sim)
    source, source_pv = sim.add_claim(
        "acme-web",
        "shared-assets",
        "nas-gold",
        created,
        access_mode="ReadWriteMany",
        annotations={SHARE_TO: "globex-prod"},
    )
    objects = [source, *_share_into(sim, source, source_pv, "globex-prod")]
    cases.fire(
        "volume-shared-by-annotation", "acme-web", objects, "shared into globex-prod, another tenant (high)"
    )
    public, _ = sim.add_claim(
        "umbrella-lab",
        "public-datasets",
        "nas-gold",
        created,
        access_mode="ReadWriteMany",
        annotations={SHARE_TO: "*"},
    )
    cases.fire(
        "volume-shared-by-annotation",
        "umbrella-lab",
        [public],
        "shareToNamespace '*': every namespace (high)",
    )
    inside, inside_pv = sim.add_claim(
        "initech-billing",
        "exports",
        "nas-gold",
        created,
        access_mode="ReadWriteMany",
        annotations={SHARE_TO: "initech-reports"},
    )
    objects = [inside, *_share_into(sim, inside, inside_pv, "initech-reports")]
    cases.fire(
        "volume-shared-by-annotation",
        "initech-billing",
        objects,
        "shared inside tenant initech (info)",
        severity="info",
    )
    clone, _ = sim.add_claim(
        "acme-db",
        "ledger-clone",
        "nas-gold",
        created,
        annotations={"trident.netapp.io/cloneFromPVC": "ledger"},
    )
    cases.near_miss(
        "volume-shared-by-annotation", "acme-db", [clone], "a clone is an independent copy, not a share"
    )


def _share_into(sim, source: dict, source_pv: dict, namespace: str) -> list:
    name = source["metadata"]["name"]
    reference = sim.put(
        shapes.trident_object(
            "TridentVolumeReference",
            sim.meta(f"{name}-ref", namespace, case_created(sim)),
            {"spec": {"pvcName": name, "pvcNamespace": source["metadata"]["namespace"]}},
        )
    )
    claim, volume = sim.add_claim(
        namespace,
        name,
        source["spec"]["storageClassName"],
        case_created(sim),
        access_mode="ReadWriteMany",
        share_source=source_pv["metadata"]["name"],
        annotations={SHARE_FROM: f"{source['metadata']['namespace']}/{name}"},
    )
    return [reference, claim, volume]
