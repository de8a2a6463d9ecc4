"""A rule's judgement of one item is reused by the worker's next analysis of the cluster while the
item's inputs are the very objects it was judged from (exposure/analysis/kept_judgements.py).  It may
only save work: a cluster remembering must judge exactly as one judging every item anew."""

from datetime import timedelta

import pytest

from exposure.analysis import context
from exposure.analysis.kept_judgements import KeptJudgements
from exposure.models import Finding
from inventory.models import Cluster, Snapshot
from inventory.tasks import snapshot_now
from simulator.world import TENANT_LABEL
from tests.test_kept_reuse import clusters_of_one_estate
from tests.test_pod_view_memory import _findings, _paths

PVC, PV = {"spec": {"volumeName": "pv-1"}}, {"spec": {}}


class Judge:
    """A judging function that counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, verdict):
        self.calls += 1
        return verdict


def twice(first_inputs, second_inputs, settings=("s", "s")) -> tuple[object, int]:
    """Judge one claim in two analyses: the second's judgement, and how often it was judged."""
    judge = Judge()
    first = KeptJudgements(settings[0])
    first.judge(("team-a", "data"), first_inputs, judge, "first")
    second = KeptJudgements(settings[1], first.done())
    return second.judge(("team-a", "data"), second_inputs, judge, "second"), judge.calls


def test_the_same_objects_keep_their_judgement():
    assert twice((PVC, PV, "acme", False, None), (PVC, PV, "acme", False, None)) == ("first", 1)


@pytest.mark.parametrize(
    "second",
    [
        ({"spec": {"volumeName": "pv-1"}}, PV, "acme", False, None),  # an equal, other object: read anew
        (PVC, PV, "globex", False, None),  # another tenant
        (PVC, PV, "acme", True, None),  # now a platform namespace
        (PVC, PV, "acme", False, 0),  # None and 0 are not the same value
        (PVC, PV, "acme", False, None, {"pod": 1}),  # one more pod mounts it
        (PVC, PV, "acme", False),  # one fewer
    ],
    ids=["equal-object", "tenant", "platform", "none-zero", "more", "fewer"],
)
def test_anything_else_is_judged_again(second):
    assert twice((PVC, PV, "acme", False, None), second) == ("second", 2)


def test_other_settings_judge_everything_again():
    assert twice((PVC, PV), (PVC, PV), settings=("s", "t")) == ("second", 2)


def test_only_the_last_analysis_is_remembered():
    judge = Judge()
    first = KeptJudgements("s")
    first.judge("a", (PVC,), judge, 1)
    second = KeptJudgements("s", first.done())
    second.judge("b", (PVC,), judge, 2)  # "a" is not judged in the second analysis
    third = KeptJudgements("s", second.done())
    assert third.judge("a", (PVC,), judge, 3) == 3 and judge.calls == 3


@pytest.mark.django_db
def test_live_analyses_find_what_judging_every_claim_anew_finds(tmp_path):
    """Through the real clients, a simulated estate with pods and claims churning (runAsUser
    toggled: what uid-gid-not-a-boundary judges), ten minutes and then days apart: after every
    snapshot a cluster whose worker remembers its judgements has the same findings and exposure
    paths as a second cluster of the same estate judging every claim anew; and ten minutes after the
    last snapshot (the volumes' access records the same objects), most judgements were kept."""
    slug = "uid-gid-not-a-boundary"
    with clusters_of_one_estate(tmp_path, "remembering", "anew") as (simulation, remembering, anew):
        Cluster.objects.update(tenant_label=TENANT_LABEL)
        kept_shares = []
        steps = ((None, None), (10, 0.02), (10, 0.05), (60 * 24 * 6, 0.1), (10, 0.02), (10, "relabel"))
        for minutes, change in steps:
            if change == "relabel":  # a namespace with such findings moved to another tenant
                finding = Finding.objects.filter(cluster=remembering, rule=slug).first()
                moved = next(
                    n for n in simulation.stored("Namespace") if n["metadata"]["name"] in finding.namespaces
                )
                simulation.change(moved, lambda n: n["metadata"]["labels"].update({TENANT_LABEL: "another"}))
            elif minutes is not None:
                simulation.advance_to(simulation.clock + timedelta(minutes=minutes))
                simulation.churn(change)
            mine = snapshot_now(remembering)
            context._LAST_JUDGEMENTS.pop(anew.pk)  # nothing to reuse: every claim judged anew
            theirs = snapshot_now(anew)
            assert mine.status == theirs.status == Snapshot.Status.COMPLETE
            assert _findings(remembering) == _findings(anew) != {}
            assert _paths(remembering) == _paths(anew) != {}
            judged = context._LAST_JUDGEMENTS.get(remembering.pk)[slug]
            if minutes == 10:
                kept_shares.append(judged.kept / len(judged.judged))
        assert Finding.objects.filter(cluster=remembering, rule=slug).exists()
        assert len(kept_shares) == 4 and min(kept_shares) > 0.5, kept_shares
