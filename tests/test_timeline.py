"""One reader of findings over time (dashboard/timelines.timeline) for the pages' charts and the REST
API's `timeline/`: a namespace counts a finding only while it was attributed there (the attribution
history reconcile records), and the API gives exactly the pages' numbers and grades."""

from dataclasses import replace
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils.dateparse import parse_datetime

from api.tokens import issue
from dashboard import timelines
from dashboard.timelines import Window, timeline
from exposure.findings import reconcile
from exposure.models import Finding, FindingNamespace, NamespaceStatus, PastAttribution
from inventory.models import Cluster
from inventory.times import rfc3339
from tenancy.access import scope_of
from tenancy.models import Grant
from tenancy.scope import Scope
from tests.api_support import *  # noqa: F403 (its fixtures)
from tests.api_support import Api
from tests.factories import dashboard_admin
from tests.test_findings_reconcile import NO_OBJECTS, START, evaluation, hit, snapshot

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_too]
WINDOW = Window(START, START + timedelta(hours=6))


def hour(n: float):
    return START + timedelta(hours=n)


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.API_THROTTLE_RATE = None


@pytest.fixture
def moving(db):
    """A finding that concerns team-a (snapshot 1, hour 1), then team-a and team-b (hour 2), then only
    team-b (hour 3), and resolves (hour 4); team-a graded D while it was there."""
    cluster = Cluster.objects.create(name="c", source=Cluster.Source.OFFLINE)
    for seq, namespaces in enumerate((["team-a"], ["team-a", "team-b"], ["team-b"]), start=1):
        reconcile(snapshot(cluster, seq), NO_OBJECTS, evaluation(replace(hit(), namespaces=namespaces)))
    reconcile(snapshot(cluster, 4), NO_OBJECTS, evaluation())
    for namespace, grade, start, end in (("team-a", "D", 1, 3), ("team-a", "A", 3, None)):
        NamespaceStatus.objects.create(
            cluster=cluster,
            namespace=namespace,
            grade=grade,
            counts={"high": 1} if grade == "D" else {},
            valid_from=start,
            valid_to=end,
            valid_from_at=hour(start),
            valid_to_at=hour(end) if end else None,
            grade_since=start,
            grade_since_at=hour(start),
        )
    return cluster


def test_reconcile_keeps_the_attributions_that_ended(moving):
    finding = Finding.objects.get()
    assert finding.namespaces == ["team-b"] and finding.status == "resolved"
    assert list(FindingNamespace.objects.values_list("namespace", "since")) == [("team-b", hour(2))]
    assert list(PastAttribution.objects.values_list("namespace", "since", "until")) == [
        ("team-a", None, hour(3))  # since it was first seen
    ]


def test_a_namespace_counts_a_finding_only_while_it_was_attributed_there(moving):
    admin = Scope.everything()
    team_a = timelines.namespace_open_series(moving, "team-a", admin, WINDOW)
    assert (team_a.times, team_a.counts) == ([hour(0), hour(1), hour(3)], {"high": [0, 1, 0]})
    team_b = timelines.namespace_open_series(moving, "team-b", admin, WINDOW)
    assert (team_b.times, team_b.counts) == ([hour(0), hour(2), hour(4)], {"high": [0, 1, 0]})
    whole = timelines.cluster_open_series(moving, admin, WINDOW)
    assert (whole.times, whole.counts) == ([hour(0), hour(1), hour(4)], {"high": [0, 1, 0]})
    # Team a's reader: the finding while it was theirs, though it is now only team b's (and so
    # neither in their findings list nor their series after hour 3); team b: nothing.
    theirs = Scope(namespaces={moving.pk: frozenset({"team-a"})})
    assert not Finding.objects.restrict(theirs).exists()
    for series in (
        timelines.cluster_open_series(moving, theirs, WINDOW),
        timelines.namespace_open_series(moving, "team-a", theirs, WINDOW),
    ):
        assert (series.times, series.counts) == (team_a.times, team_a.counts)
    assert timelines.namespace_open_series(moving, "team-b", theirs, WINDOW).counts == {}


def test_the_timeline_joins_the_series_and_the_grades(moving):
    steps = timeline(moving, Scope.everything(), "team-a", WINDOW).steps()
    assert [(s.start, s.end, s.open["high"], s.grade) for s in steps] == [
        (hour(0), hour(1), 0, None),
        (hour(1), hour(3), 1, "D"),
        (hour(3), hour(6), 0, "A"),
    ]
    assert steps[1].grade_counts == {"high": 1} and set(steps[0].open) == {
        "critical",
        "high",
        "medium",
        "low",
        "info",
    }


def _api_steps(api: Api, **query) -> list[dict]:
    return api.every(
        "timeline/", since=rfc3339(WINDOW.start), until=rfc3339(WINDOW.end), page_size="1", **query
    )


def _reader_steps(cluster, scope, namespace) -> list[dict]:
    """The pages' reader's steps, written as the API writes them."""
    return [
        {
            "cluster": cluster.name,
            "namespace": namespace,
            "start": rfc3339(s.start),
            "end": rfc3339(s.end),
            "open_findings": s.open,
            "grade": s.grade,
            "grade_counts": None
            if s.grade_counts is None
            else {**dict.fromkeys(s.open, 0), **s.grade_counts},
        }
        for s in timeline(cluster, scope, namespace, WINDOW).steps()
    ]


def _series_at(series, moment) -> dict:
    """What the series holds at `moment`: its value at the last time not after it."""
    index = max(i for i, t in enumerate(series.times) if t <= moment)
    return {severity: values[index] for severity, values in series.counts.items() if values[index]}


def test_the_api_gives_the_pages_numbers_for_the_same_cluster_namespace_and_window(moving):
    admin = dashboard_admin()
    tess = User.objects.create_user("tess")
    Grant.objects.create(user=tess, cluster=moving, namespace="team-a")
    for user in (admin, tess):
        api, scope = Api(issue(user, "t")[1]), scope_of(user)
        for namespace in (None, "team-a", "team-b"):
            steps = _api_steps(api, cluster="c", **({"namespace": namespace} if namespace else {}))
            assert steps == _reader_steps(moving, scope, namespace), (user, namespace)
            # Each step holds the open counts the pages' charts draw (their series) at its start.
            if namespace is None:
                drawn = timelines.cluster_open_series(moving, scope, WINDOW)
            else:
                drawn = timelines.namespace_open_series(moving, namespace, scope, WINDOW)
            for step in steps:
                counted = {severity: n for severity, n in step["open_findings"].items() if n}
                assert counted == _series_at(drawn, parse_datetime(step["start"])), (user, namespace, step)
    # Team a's reader: open 1 from hour 1 to 3 with grade D, as the admin sees it; of team b nothing,
    # exactly as of a namespace that exists nowhere.
    tess_api = Api(issue(tess, "t2")[1])
    hers = _api_steps(tess_api, cluster="c", namespace="team-a")
    assert [(s["start"], s["open_findings"]["high"], s["grade"]) for s in hers] == [
        (rfc3339(hour(0)), 0, None),
        (rfc3339(hour(1)), 1, "D"),
        (rfc3339(hour(3)), 0, "A"),
    ]
    hidden = _api_steps(tess_api, cluster="c", namespace="team-b")
    nowhere = _api_steps(tess_api, cluster="c", namespace="nowhere")
    assert hidden == [{**step, "namespace": "team-b"} for step in nowhere]
    assert [(s["open_findings"]["high"], s["grade"]) for s in hidden] == [(0, None)]


def test_the_api_timeline_of_the_case_clusters_is_the_pages(clusters, admin_api, alice_api, alice, admin):
    """On real snapshots (the two tenants' clusters): every namespace and the cluster, both readers."""
    prod = Cluster.objects.get(name="prod")
    window = timelines.window_of(prod, Scope.everything())
    for api, user in ((admin_api, admin), (alice_api, alice)):
        for namespace in (None, "alpha-web", "alpha-db", "beta-app"):
            query = {"cluster": "prod", "since": rfc3339(window.start), "until": rfc3339(window.end)}
            steps = api.every("timeline/", **query, **({"namespace": namespace} if namespace else {}))
            expected = timeline(prod, scope_of(user), namespace, window).steps()
            assert [(s["start"], s["open_findings"], s["grade"]) for s in steps] == [
                (rfc3339(e.start), e.open, e.grade) for e in expected
            ], (user, namespace)
    assert timeline(prod, scope_of(alice), "beta-app", window).steps()[0].grade is None
    web = alice_api.every("timeline/", cluster="prod", namespace="alpha-web")
    assert web[-1]["grade"] == "D" and web[-1]["open_findings"]["high"] >= 1
