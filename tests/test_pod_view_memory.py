"""A worker's analysis reuses the pod views of its last analysis of the cluster
(exposure/analysis/workloads.py `KeptPodViews`) only for a pod whose stored form is the very object
the view was made of, under the same platform namespaces and accounts: its findings and paths must
be those of an analysis that viewed every pod anew."""

import copy
from datetime import timedelta

import pytest

from exposure.analysis import context
from exposure.analysis.workloads import pod_view, pod_views
from exposure.models import Finding
from inventory.models import InventoryObject, Snapshot
from inventory.state import DERIVED_SCOPE
from inventory.tasks import snapshot_now
from tests.cases.runner import TAKEN_AT
from tests.test_kept_reuse import clusters_of_one_estate

PLATFORM, ACCOUNTS = frozenset({"kube-system"}), frozenset({"team-a/backup"})


def pod(namespace: str, name: str, account: str = "default", run_as: int | None = None) -> dict:
    security = {"runAsUser": run_as} if run_as is not None else {}
    return {
        "metadata": {"namespace": namespace, "name": name},
        "spec": {
            "serviceAccountName": account,
            "securityContext": security,
            "containers": [{"name": "c", "securityContext": {"fsGroup": True}}],  # a bool is no id
            "volumes": [
                {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                {"name": "odd", "persistentVolumeClaim": {"claimName": 7}},
                "not a volume",
            ],
        },
    }


def pods() -> dict:
    return {
        ("team-a", "web"): pod("team-a", "web", run_as=1000),
        ("team-a", "backup"): pod("team-a", "backup", account="backup"),
        ("kube-system", "dns"): pod("kube-system", "dns"),
    }


def test_a_pod_whose_form_is_the_same_object_keeps_its_view():
    forms = pods()
    first = pod_views(forms, PLATFORM, ACCOUNTS, None)
    again = pod_views(forms, PLATFORM, ACCOUNTS, first)
    assert all(again.views[key] is view for key, view in first.views.items())


def test_a_changed_or_equal_but_other_pod_is_viewed_anew():
    forms = pods()
    first = pod_views(forms, PLATFORM, ACCOUNTS, None)
    changed = dict(forms)
    changed[("team-a", "web")] = pod("team-a", "web", run_as=1001)
    changed[("team-a", "backup")] = copy.deepcopy(forms[("team-a", "backup")])  # equal, not the same
    again = pod_views(changed, PLATFORM, ACCOUNTS, first)
    assert again.views[("kube-system", "dns")] is first.views[("kube-system", "dns")]
    assert again.views[("team-a", "web")] is not first.views[("team-a", "web")]
    assert again.views[("team-a", "backup")] is not first.views[("team-a", "backup")]
    assert list(again.views) == list(changed)
    for key, form in changed.items():
        assert again.views[key] == pod_view(form, PLATFORM, ACCOUNTS)


@pytest.mark.parametrize(
    "platform, accounts",
    [(frozenset({"kube-system", "team-a"}), ACCOUNTS), (PLATFORM, frozenset())],
    ids=["platform-namespaces", "platform-accounts"],
)
def test_other_platform_settings_view_every_pod_anew(platform, accounts):
    forms = pods()
    first = pod_views(forms, PLATFORM, ACCOUNTS, None)
    again = pod_views(forms, platform, accounts, first)
    assert not any(again.views[key] is view for key, view in first.views.items())
    assert [v.platform for v in again.views.values()] == [
        pod_view(f, platform, accounts).platform for f in forms.values()
    ]


def test_what_a_view_works_out_of_its_pod():
    view = pod_view(pods()[("team-a", "web")], PLATFORM, ACCOUNTS)
    assert view.claims == ("data",)  # a claim name that is not text is none
    assert view.ids_set == ("runAsUser",)  # fsGroup: true is not an id
    assert pod_view({"spec": {"volumes": "x", "securityContext": 5}}, PLATFORM, ACCOUNTS).claims == ()


def _findings(cluster) -> dict:
    return {
        f.fingerprint: (f.status, f.severity, f.title, f.detail, f.evidence, f.paths, f.refs, f.namespaces)
        for f in Finding.objects.filter(cluster=cluster)
    }


def _paths(cluster) -> dict:
    records = InventoryObject.objects.current().filter(
        cluster=cluster, scope=DERIVED_SCOPE, kind="ExposurePaths"
    )
    return {(o.namespace, o.name): o.digest for o in records}


@pytest.mark.django_db
def test_live_analyses_find_what_viewing_every_pod_anew_finds(tmp_path):
    """Through the real clients, a simulated estate over three weeks with pods and claims churning:
    after every snapshot, a cluster whose worker remembers its last pod views has the same findings
    and exposure paths as a second cluster of the same estate whose pods are viewed anew each time;
    and where few pods changed, most views were kept."""
    with clusters_of_one_estate(tmp_path, "remembering", "anew") as (simulation, remembering, anew):
        kept_shares = []
        for days, fraction in ((None, None), (6.5, 0.02), (6.6, 0.05), (20.6, 0.1)):
            if days is not None:
                simulation.advance_to(TAKEN_AT + timedelta(days=days))
                simulation.churn(fraction)
            before = context._LAST_POD_VIEWS.get(remembering.pk)
            mine = snapshot_now(remembering)
            context._LAST_POD_VIEWS.pop(anew.pk)  # nothing to reuse: every pod viewed anew
            theirs = snapshot_now(anew)
            assert mine.status == theirs.status == Snapshot.Status.COMPLETE
            assert _findings(remembering) == _findings(anew) != {}
            assert _paths(remembering) == _paths(anew) != {}
            after = context._LAST_POD_VIEWS.get(remembering.pk)
            if before is not None:
                kept = [key for key, view in after.views.items() if before.views.get(key) is view]
                kept_shares.append(len(kept) / len(after.views))
        assert len(kept_shares) == 3 and min(kept_shares) > 0.5, kept_shares
