"""What the weekly digest says (issue 12): each section on a cluster whose findings opened, resolved
and were suppressed at chosen times; the three paths to fix first; the recipient's scope (the canary);
tenant-controlled text inert; mail-safe HTML; the "no change" digest; a fixed number of queries."""

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from digest.content import build_digest
from digest.fix_first import fix_first
from digest.period import Period
from digest.recipients import Recipient
from digest.week import read_week
from exposure.models import Finding, NamespaceStatus
from inventory.models import Cluster
from inventory.refs import EVERYONE, OUTSIDE
from tenancy.access import scope_of
from tenancy.scope import Scope
from tests import factories
from tests import test_canary as canary
from tests.cases.runner import TAKEN_AT

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_too]

WEEK_START = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)  # a Monday, 08:00
PERIOD = Period.week_ending(WEEK_START + timedelta(days=7))
SITE = "https://exposure.example.com"


def day(n: float) -> datetime:
    """Days from the start of the digest's week (negative: the week before and earlier)."""
    return WEEK_START + timedelta(days=n)


def path(namespace: str, tenant: str, identity: str = "Deployment x/y", **fields) -> dict:
    return {
        "actor": {"kind": "workload", "identity": identity, "tenant": tenant, "platform": False},
        "hops": [{"ref": f"Pod/{namespace}/app-0", "via": "spec.volumes"}],
        "data": [f"PersistentVolumeClaim/{namespace}/data"],
        "namespace": namespace,
        "access": "write",
        "rule": "privileged-container",
        "severity": "high",
        "mitigations": [],
        "inside_tenant": False,
        "platform": False,
        **fields,
    }


def grade(cluster, namespace, letter, start, end=None, seq=1):
    NamespaceStatus.objects.create(
        cluster=cluster,
        namespace=namespace,
        grade=letter,
        counts={},
        valid_from=seq,
        valid_to=seq + 1 if end else None,
        valid_from_at=start,
        valid_to_at=end,
        grade_since=seq,
        grade_since_at=start,
    )


def owner(cluster, *namespaces, username=None) -> Recipient:
    scope = Scope(namespaces={cluster.pk: frozenset(namespaces)}, who="owner")
    return Recipient("owner@a.example", "owner", scope, username=username)


world = (
    canary.world
)  # two clusters, tenant B's marker planted (an HTML payload in a label); A granted on both
ADMIN = Recipient("lead@example.com", "admin", Scope.everything(), username="lead")


@pytest.fixture
def week_cluster():
    """team-a's week: findings opened, resolved, reopened and suppressed at chosen times; team-a went
    from A to F on day 3; team-b (another tenant) has its own findings and one shared with team-a."""
    cluster = Cluster.objects.create(name="c1", source=Cluster.Source.OFFLINE)
    made = {
        # Opened this week; critical; opens team-a's data to two other tenants.
        "new": factories.finding(
            cluster,
            "team-a",
            1,
            first_seen=day(3),
            severity="critical",
            paths=[path("team-a", "b"), path("team-a", "c")],
        ),
        # Opened the week before, resolved this week.
        "resolved": factories.finding(
            cluster, "team-a", 2, first_seen=day(-6), status="resolved", resolved_at=day(5)
        ),
        # Open for long: oldest by what makes it true (at least since), then by first seen.
        "oldest": factories.finding(
            cluster, "team-a", 3, first_seen=day(-20), at_least_since=day(-40), severity="medium"
        ),
        "older": factories.finding(cluster, "team-a", 4, first_seen=day(-10)),
        # Suppressed, the suppression ending three days into next week; another ending in a month.
        "expiring": factories.finding(cluster, "team-a", 5, first_seen=day(-5)),
        "held": factories.finding(cluster, "team-a", 6, first_seen=day(-30)),
        # Opened the week before, resolved then, reopened this week.
        "reopened": factories.finding(cluster, "team-a", 7, first_seen=day(-3)),
        # Info counts nowhere.
        "info": factories.finding(cluster, "team-a", 8, first_seen=day(2), severity="info"),
        # Tenant b's own, and one shared by both whose title names b's namespace.
        "b-only": factories.finding(
            cluster, "team-b", 9, first_seen=day(2), title="team-b/secret-app exposed"
        ),
        "shared": factories.finding(
            cluster,
            "team-a",
            10,
            first_seen=day(-2),
            namespaces=["team-a", "team-b"],
            title="Pod team-b/secret-app mounts team-a's volume",
            paths=[path("team-a", "b", identity="Pod team-b/secret-app")],
        ),
    }
    factories.finding_events(made["resolved"], [(day(5), "resolved", {"why": "no longer seen"})])
    factories.finding_events(
        made["reopened"], [(day(-1), "resolved", {"why": "no longer seen"}), (day(4), "reopened", {})]
    )
    factories.suppression(made["expiring"], created=day(-4), expires=day(10))
    factories.suppression(made["held"], created=day(-29), expires=day(37))
    grade(cluster, "team-a", "A", day(-30), day(3), seq=1)
    grade(cluster, "team-a", "F", day(3), seq=2)
    grade(cluster, "team-b", "D", day(-30), seq=1)
    return cluster, made


def test_each_section_says_what_happened_in_the_week(week_cluster):
    cluster, made = week_cluster
    week = read_week(owner(cluster, "team-a"), PERIOD)
    ids = {finding.pk: name for name, finding in made.items()}

    def named(facts):
        return [ids[f.id] for f in facts]

    assert named(week.new) == ["new", "reopened"]  # the worst first
    assert [f.reopened for f in week.new] == [False, True]
    assert named(week.resolved) == ["resolved"]
    assert named(week.still_open) == ["oldest", "older", "reopened", "shared", "new"]  # oldest first
    assert named(week.expiring) == ["expiring"]
    assert week.expiring[0].suppressed_until == day(10)
    assert [(c.namespace, c.letters) for c in week.grade_changes] == [("team-a", ("A", "F"))]
    # The week before: resolved, expiring, reopened (then) and shared opened; reopened resolved.
    assert (week.before.new, week.before.resolved, week.before.open) == (4, 1, 4)
    assert (week.this.new, week.this.resolved, week.this.open) == (2, 1, 5)
    assert week.this.open_by_severity == {"critical": 1, "high": 3, "medium": 1}

    digest = build_digest(owner(cluster, "team-a", username="alice"), PERIOD, site_url=SITE)
    assert not digest.nothing_new
    assert (
        digest.subject
        == "Storage exposure 2026-W12: 2 new, 1 resolved, 1 suppression ending — grade F in 1 namespace"
    )
    text = digest.text
    headings = ["FIX FIRST", "NEW THIS WEEK (2)", "RESOLVED THIS WEEK (1)", "STILL OPEN, OLDEST FIRST (5)"]
    headings += [
        "SUPPRESSIONS ENDING NEXT WEEK (1)",
        "GRADE CHANGES",
        "TREND, THIS WEEK AGAINST THE WEEK BEFORE",
    ]
    positions = [text.index(h) for h in headings]
    assert positions == sorted(positions), text
    assert "2 new | 1 resolved | 5 still open | 1 suppression ending next week" in text
    assert "- [MEDIUM] made finding 3 in team-a\n  at least since 28 Jan 2026 | c1 / team-a" in text
    assert "- [HIGH] made finding 5 in team-a\n  suppressed until Thu 19 Mar 08:00 UTC" in text
    assert "- c1 / team-a: A → F" in text
    assert "made finding 7 in team-a (reopened)" in text
    resolved = text[text.index("RESOLVED THIS WEEK") : text.index("STILL OPEN")]
    assert resolved.count("\n- [") == 1 and "(resolved since)" not in resolved, "resolved is what it says"
    assert "Open findings: +1 (worse)" in text
    assert "Namespaces by grade, now (a week ago): F 1 (0), A 0 (1)" in text
    assert "info" not in text.lower().replace("information", "")
    assert f"{SITE}/findings/{made['new'].pk}/" in text


def test_grade_changes_over_the_week_and_which_suppressions_end_next_week(week_cluster):
    cluster, made = week_cluster
    grade(cluster, "team-c", "A", day(-30), day(2), seq=1)  # A, F for two days, A again
    grade(cluster, "team-c", "F", day(2), day(4), seq=2)
    grade(cluster, "team-c", "A", day(4), seq=3)
    grade(cluster, "team-d", "D", day(5), seq=4)  # created this week, exposed
    grade(cluster, "team-e", "A", day(5), seq=4)  # created this week, unexposed: no news
    grade(cluster, "team-f", "F", day(-30), day(6), seq=1)  # deleted this week
    grade(cluster, "team-g", "C", day(-30), day(-1), seq=1)  # changed before the week only
    grade(cluster, "team-g", "B", day(-1), seq=2)
    grade(cluster, "", "D", day(-30), day(1), seq=1)  # the cluster's own: admins only
    grade(cluster, "", "F", day(1), seq=2)
    # Suppressions that do not end next week: lifted, made for older evidence, or outlived by another.
    lifted = factories.finding(cluster, "team-a", 30, first_seen=day(-9))
    factories.suppression(lifted, created=day(-8), expires=day(9), lifted=day(1))
    changed = factories.finding(cluster, "team-a", 31, first_seen=day(-9))
    factories.suppression(changed, created=day(-8), expires=day(9))
    factories.finding_events(changed, [(day(2), "evidence-changed", {})])
    outlived = factories.finding(cluster, "team-a", 32, first_seen=day(-9))
    factories.suppression(outlived, created=day(-8), expires=day(9))
    factories.suppression(outlived, created=day(-7), expires=day(40))

    week = read_week(ADMIN, PERIOD)
    changes = {c.namespace: (c.letters, c.appeared, c.removed) for c in week.grade_changes}
    assert changes == {
        "": (("D", "F"), False, False),
        "team-a": (("A", "F"), False, False),
        "team-c": (("A", "F", "A"), False, False),
        "team-d": (("D",), True, False),
        "team-f": (("F",), False, True),
    }
    assert [c.namespace for c in week.grade_changes][:3] == ["", "team-a", "team-d"], "the worst now first"
    assert [f.id for f in week.expiring] == [made["expiring"].pk]
    text = build_digest(ADMIN, PERIOD, site_url=SITE).text
    assert "- c1 / team-c: A → F → A" in text and "- c1 / team-d: D (new namespace)" in text
    assert "- c1 / team-f: F (namespace gone)" in text and "- c1 / (cluster-wide): D → F" in text
    # Tenants never see the cluster's own row; nor another tenant's namespaces.
    owner_week = read_week(owner(cluster, "team-a", "team-c"), PERIOD)
    assert {c.namespace for c in owner_week.grade_changes} == {"team-a", "team-c"}


def test_the_three_paths_to_fix_first_by_severity_then_breadth_then_age(week_cluster):
    cluster, made = week_cluster
    more = {
        # Critical, reaching every namespace: first whatever its age.
        "everyone": factories.finding(
            cluster, "team-a", 20, first_seen=day(5), severity="critical", paths=[path("team-a", EVERYONE)]
        ),
        # Critical, to one tenant: after "new" (two tenants) however old.
        "narrow-old": factories.finding(
            cluster, "team-a", 21, first_seen=day(-60), severity="critical", paths=[path("team-a", "b")]
        ),
        # Critical, two outside networks: as broad as "new", but older, so before it.
        "hosts-older": factories.finding(
            cluster,
            "team-a",
            22,
            first_seen=day(-1),
            severity="critical",
            paths=[path("team-a", OUTSIDE, "0.0.0.0/0"), path("team-a", OUTSIDE, "10.0.0.0/8")],
        ),
        # Paths inside the tenant or from the platform, or into data the reader does not see, are no breadth.
        "inside": factories.finding(
            cluster,
            "team-a",
            23,
            first_seen=day(-90),
            severity="critical",
            paths=[
                path("team-a", "a", inside_tenant=True),
                path("team-a", "p", platform=True),
                path("team-b", "x"),
                path("team-b", "y"),
            ],
        ),
    }
    recipient = owner(cluster, "team-a", username="alice")
    week = read_week(recipient, PERIOD)
    first = fix_first(week.still_open, recipient.scope)
    ids = {finding.pk: name for name, finding in {**made, **more}.items()}
    assert [ids[f.id] for f, _ in first] == ["everyone", "hosts-older", "new"]
    assert [b.describe() for _, b in first] == [
        "every namespace",
        "2 outside hosts or networks",
        "2 other tenants",
    ]
    text = build_digest(recipient, PERIOD, site_url=SITE).text
    block = text[text.index("FIX FIRST") : text.index("NEW THIS WEEK")]
    assert block.index("made finding 20") < block.index("made finding 22") < block.index("made finding 1 ")
    assert "opens to 2 outside hosts or networks" in block
    # Each with its remediation (the rule's) and a link to its page.
    assert block.count("Fix: ") == 3 and "privileged" in block.lower()
    assert f"{SITE}/findings/{more['everyone'].pk}/" in block


def test_an_owners_digest_names_nothing_of_another_tenant(week_cluster):
    cluster, made = week_cluster
    digest = build_digest(owner(cluster, "team-a"), PERIOD, site_url=SITE)
    for part in (digest.subject, digest.text, digest.html):
        assert "team-b" not in part and "secret-app" not in part
    assert "made finding 10" not in digest.text  # the shared one: its title names b
    assert "privileged-container in team-a, involving namespaces of another tenant" in " ".join(
        digest.text.split()
    )
    admin = build_digest(ADMIN, PERIOD, site_url=SITE)
    assert "team-b/secret-app" in admin.text, "an admin's digest names both: redaction is per reader"
    assert "c1 / team-b" in admin.text


def test_the_canary_never_reaches_tenant_as_digest(world):
    """Tenant A's digest, as an account and as a bare owner address, of the week the canary world was
    imported: full of content, and never B's marker; the admin's names B (the test could see it)."""
    period = Period.week_ending(TAKEN_AT + timedelta(days=1))
    alice = Recipient("alice@a.example", "owner", scope_of(world), username="alice")
    bare = Recipient("owner@a.example", "owner", scope_of(world))
    for recipient in (alice, bare):
        digest = build_digest(
            recipient, period, site_url=SITE, unsubscribe_url=f"{SITE}/digest/unsubscribe/t0k3n/"
        )
        assert not digest.nothing_new and "FIX FIRST" in digest.text
        assert "alpha-web" in digest.text and "alpha-db" in digest.text
        for part in (digest.subject, digest.text, digest.html):
            assert canary.MARKER not in part
    admin = build_digest(ADMIN, period, site_url=SITE)
    assert canary.MARKER in admin.text and canary.MARKER in admin.html
    assert "<img" not in admin.html and "<script" not in admin.html  # B's labels carry an HTML payload


def _hostile(cluster):
    finding = Finding.objects.get(cluster=cluster, fingerprint="made-team-a-1")
    finding.title = canary.PAYLOAD + "<script>alert(1)</script>"
    finding.save()
    Cluster.objects.filter(pk=cluster.pk).update(name='c1"><a href="https://evil.example/">x</a>')


def test_tenant_controlled_text_arrives_inert(week_cluster):
    cluster, _ = week_cluster
    _hostile(cluster)
    digest = build_digest(ADMIN, PERIOD, site_url=SITE)
    assert "<script" not in digest.html and "<img" not in digest.html and 'evil.example/">' not in digest.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in digest.html
    assert "&lt;img src=x onerror=" in digest.html
    assert "c1&quot;&gt;&lt;a href=&quot;https://evil.example/&quot;&gt;" in digest.html
    # The text part is plain text: the names as they are, nothing interpreted.
    assert canary.PAYLOAD + "<script>alert(1)</script>" in digest.text
    assert all(ord(c) >= 32 or c == "\n" for c in digest.text)


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.links, self.attributes = [], [], set()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes |= {name for name, _ in attrs}
        self.links += [
            (tag, name, value) for name, value in attrs if name in ("href", "src", "action", "background")
        ]


def test_the_html_part_is_mail_safe_and_links_only_to_the_site(week_cluster):
    cluster, _ = week_cluster
    _hostile(cluster)
    unsubscribe = f"{SITE}/digest/unsubscribe/t0k3n/"
    digest = build_digest(ADMIN, PERIOD, site_url=SITE, unsubscribe_url=unsubscribe)
    parsed = _Tags()
    parsed.feed(digest.html)
    assert not {"script", "img", "link", "style", "iframe", "object", "form", "svg"} & set(parsed.tags)
    assert not [name for name in parsed.attributes if name.startswith("on")], "no event handler"
    assert parsed.links and all(tag == "a" and name == "href" for tag, name, _ in parsed.links)
    assert all(value.startswith(f"{SITE}/") for _, _, value in parsed.links), parsed.links
    assert "class=" not in digest.html, "inline styles only: mail clients drop stylesheets"
    # The trend is drawn by table cells, sized by the open findings of each week.
    assert re.search(r'<td width="\d+%" title="1 critical" style="background:#b3261e', digest.html)
    assert unsubscribe in digest.html and unsubscribe in digest.text


def test_a_recipient_without_an_account_is_told_how_to_ask_and_sent_through_sign_in(week_cluster):
    cluster, made = week_cluster
    digest = build_digest(owner(cluster, "team-a"), PERIOD, site_url=SITE)
    assert "ask a dashboard administrator for an account" in digest.text
    assert "ask a dashboard administrator for an account" in digest.html
    link = f"{SITE}/login/?next=%2Ffindings%2F{made['new'].pk}%2F"
    assert link in digest.text and link.replace("&", "&amp;") in digest.html
    assert f"{SITE}/findings/" not in digest.text
    assert "owner@a.example owns namespaces the storage exposure dashboard watches" in digest.html
    listed = Recipient(
        "storage-team@example.com", "cluster-list", Scope.everything(), cluster_ids=(cluster.pk,)
    )
    assert "is on the digest list of the clusters it covers" in build_digest(listed, PERIOD).html
    with_account = build_digest(owner(cluster, "team-a", username="alice"), PERIOD, site_url=SITE)
    assert "/login/" not in with_account.text and "ask a dashboard administrator" not in with_account.text


def test_a_week_with_nothing_new_is_one_line(week_cluster):
    cluster, _ = week_cluster
    quiet = Period.week_ending(day(30))  # nothing opened, resolved, regraded or ending then
    digest = build_digest(owner(cluster, "team-a", username="alice"), quiet, site_url=SITE)
    assert digest.nothing_new
    assert digest.subject == "Storage exposure 2026-W15: no change — 6 open, grade F in 1 namespace"
    assert digest.text.strip().count("\n") == 0
    assert digest.text.startswith(
        "No change in your storage exposure in week 2026-W15: 6 findings still open"
    )
    assert "No change" in digest.html and "<table" not in digest.html
    nobody = Recipient("x@example.com", "owner", Scope.nothing(), username="x")
    assert build_digest(nobody, PERIOD).nothing_new
    assert "watches no namespace of yours" in build_digest(nobody, PERIOD).text


def test_the_content_hash_is_of_what_the_recipient_reads(week_cluster):
    cluster, made = week_cluster
    recipient = owner(cluster, "team-a", username="alice")
    one = build_digest(recipient, PERIOD, site_url=SITE, unsubscribe_url=f"{SITE}/u/one/")
    two = build_digest(recipient, PERIOD, site_url=SITE, unsubscribe_url=f"{SITE}/u/two/")
    assert one.content_hash == two.content_hash and one.text != two.text
    Finding.objects.filter(pk=made["new"].pk).update(title="renamed")
    assert build_digest(recipient, PERIOD, site_url=SITE).content_hash != one.content_hash


def test_the_text_part_reads_on_its_own(week_cluster):
    cluster, _ = week_cluster
    text = build_digest(owner(cluster, "team-a", username="alice"), PERIOD, site_url=SITE).text
    assert "\n\n\n" not in text and "{" not in text and "&lt;" not in text and "&amp;" not in text
    # Long paragraphs are wrapped; only a line ending in a link may be longer.
    assert all(len(line) <= 80 for line in text.splitlines() if "https://" not in line)
    assert text.splitlines()[0] == "Storage exposure digest, week 2026-W12 (09 Mar 2026 to 16 Mar 2026)"
    assert "This week        " in text and "█" in text


def _more_findings(cluster, start, count):
    for n in range(start, start + count):
        factories.finding(cluster, "team-a", n, first_seen=day(n % 7), paths=[path("team-a", "b")])
        factories.finding(cluster, "team-b", n, first_seen=day(-(n % 5)))


@pytest.mark.parametrize("who", ["admin", "owner"])
def test_a_digest_costs_the_same_queries_whatever_the_findings(week_cluster, who):
    cluster, _ = week_cluster
    recipient = ADMIN if who == "admin" else owner(cluster, "team-a")

    def queries() -> int:
        Cluster.objects.get(pk=cluster.pk)  # nothing cached between the runs
        with CaptureQueriesContext(connection) as captured:
            build_digest(recipient, PERIOD, site_url=SITE)
        return len(captured)

    _more_findings(cluster, 100, 5)
    few = queries()
    _more_findings(cluster, 200, 60)
    assert queries() == few
    # A fixed number, and the reader of each cluster (dashboard.queries.reader_for: at most four).
    assert few <= 8 + 4 * Cluster.objects.count()
