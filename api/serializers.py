"""The API's shapes.  Views build plain dicts with the readers of dashboard/queries.py (the same the
pages use) and these serializers write them out: the schema documents exactly what is sent.

A finding's shape is exposure.findings.summary (the CLI's `findings --format json` too), redacted by
tenancy.redaction.redact_finding; a rule's is exposure.catalog.catalog's (`rules --format json`).
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from exposure.findings import STATUSES
from exposure.rules import SEVERITIES
from inventory.models import Snapshot


def severity_field():
    return serializers.ChoiceField(choices=list(reversed(SEVERITIES)))


class SeverityCounts(serializers.Serializer):
    """Open, unsuppressed findings per severity (0 when none)."""

    critical = serializers.IntegerField()
    high = serializers.IntegerField()
    medium = serializers.IntegerField()
    low = serializers.IntegerField()
    info = serializers.IntegerField()


def severity_counts(counted: dict) -> dict:
    return {severity: int(counted.get(severity, 0)) for severity in reversed(SEVERITIES)}


# --- errors ---------------------------------------------------------------------------------------


class ErrorBody(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable: invalid, not_authenticated, not_found, …")
    message = serializers.CharField()
    details = serializers.DictField(
        child=serializers.JSONField(),
        help_text="For `invalid`: each parameter's problems; for `throttled`: retry_after (seconds).",
    )


class Error(serializers.Serializer):
    error = ErrorBody()


# --- clusters and snapshots -----------------------------------------------------------------------


class SnapshotRef(serializers.Serializer):
    id = serializers.IntegerField()
    seq = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Snapshot.Status.choices)
    taken_at = serializers.DateTimeField()
    url = serializers.CharField()


class SnapshotOut(SnapshotRef):
    cluster = serializers.CharField()
    origin = serializers.ChoiceField(choices=Snapshot.Origin.values)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True)
    unread = serializers.DictField(
        child=serializers.CharField(),
        allow_null=True,
        help_text="What a partial snapshot could not read, and why (admins; null for others).",
    )
    error = serializers.CharField(allow_null=True, help_text="Why it failed (admins; null for others).")
    analysis_failure = serializers.CharField(
        allow_null=True, help_text="Why its analysis is incomplete (admins; null for others)."
    )


class ClusterOut(serializers.Serializer):
    name = serializers.CharField()
    url = serializers.CharField()
    source = serializers.CharField()
    enabled = serializers.BooleanField()
    interval_minutes = serializers.IntegerField()
    latest_snapshot = SnapshotRef(allow_null=True, help_text="Its latest complete or partial snapshot.")
    running_snapshot = SnapshotRef(allow_null=True, help_text="A snapshot queued or running now.")
    snapshot = SnapshotRef(
        allow_null=True,
        help_text="The snapshot the counts are read from: the latest, or the one `as_of` names (null: "
        "none then).",
    )
    namespace_count = serializers.IntegerField(help_text="Namespaces the caller sees, as of `snapshot`.")
    open_findings = SeverityCounts(
        help_text="Open, unsuppressed findings the caller sees, per severity: now, or (`as_of`) when "
        "`snapshot` was taken."
    )
    grades = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="How many of the caller's namespaces have each grade, as of `snapshot`.",
    )
    grade = serializers.CharField(
        allow_null=True, help_text="The grade of the cluster-wide findings (admins; null for others)."
    )


# --- namespaces, paths, volumes -------------------------------------------------------------------


class NamespaceOut(serializers.Serializer):
    cluster = serializers.CharField()
    name = serializers.CharField()
    url = serializers.CharField()
    snapshot = serializers.IntegerField(help_text="The snapshot it is read from (see `as_of`).")
    tenant = serializers.CharField()
    created = serializers.DateTimeField(allow_null=True, help_text="Its creationTimestamp.")
    pvcs = serializers.IntegerField()
    pods = serializers.IntegerField()
    grade = serializers.CharField(allow_null=True, help_text="A (no open violation) to F (a critical one).")
    open_violations = SeverityCounts(
        help_text="Open, unsuppressed findings into its data, per severity, as of the snapshot."
    )


class OwnerOut(serializers.Serializer):
    kind = serializers.CharField()
    name = serializers.CharField()
    source = serializers.CharField()
    trusted = serializers.BooleanField()
    forgeable_by = serializers.ListField(child=serializers.CharField())


class NamespaceDetailOut(NamespaceOut):
    grade_since = serializers.DateTimeField(allow_null=True, help_text="Since when it has this grade.")
    owners = OwnerOut(many=True)
    paths_url = serializers.CharField()
    volumes_url = serializers.CharField()
    findings_url = serializers.CharField()


class ActorOut(serializers.Serializer):
    kind = serializers.CharField()
    identity = serializers.CharField()
    tenant = serializers.CharField()
    platform = serializers.BooleanField()


class HopOut(serializers.Serializer):
    ref = serializers.CharField()
    via = serializers.CharField()


class PathOut(serializers.Serializer):
    """One exposure path: who (actor) reaches which data through which objects, with what access."""

    actor = ActorOut()
    hops = HopOut(many=True)
    data = serializers.ListField(child=serializers.CharField())
    namespace = serializers.CharField()
    access = serializers.CharField()
    rule = serializers.CharField()
    severity = severity_field()
    mitigations = serializers.ListField(child=serializers.CharField())
    inside_tenant = serializers.BooleanField()
    platform = serializers.BooleanField()


@extend_schema_field(PathOut(many=True))
class PathsOut(serializers.Field):
    """A finding's paths as `PathOut(many=True)` writes them, by picking PathOut's declared keys: a
    page of findings holds thousands of paths, and DRF's field-by-field writing of them took about a
    fifth of the findings API's time at the bench scale.  The paths are the analysis' own JSON
    (exposure.analysis.paths.ExposurePath.as_dict), of PathOut's types already; a missing key fails,
    as in the serializer."""

    path_keys = tuple(PathOut().fields)
    actor_keys = tuple(ActorOut().fields)
    hop_keys = tuple(HopOut().fields)

    def to_representation(self, paths: list[dict]) -> list[dict]:
        return [self._written(path) for path in paths]

    def _written(self, path: dict) -> dict:
        written = {key: path[key] for key in self.path_keys}
        written["actor"] = {key: path["actor"][key] for key in self.actor_keys}
        written["hops"] = [{key: hop[key] for key in self.hop_keys} for hop in path["hops"]]
        return written


class GateOut(serializers.Serializer):
    kind = serializers.CharField()
    name = serializers.CharField()
    where = serializers.CharField()
    role = serializers.CharField()
    rules = serializers.IntegerField()
    unread = serializers.BooleanField()
    unreadable = serializers.CharField(allow_blank=True)


class PartyOut(serializers.Serializer):
    party = serializers.CharField(help_text="A client match, an initiator, or whoever holds a secret.")
    via = serializers.CharField()
    access = serializers.CharField()
    protocols = serializers.ListField(child=serializers.CharField())
    verdict = serializers.CharField(help_text="nodes, stale, foreign, unverifiable, …")
    nodes = serializers.ListField(child=serializers.CharField())
    stale_nodes = serializers.ListField(child=serializers.CharField())
    foreign_addresses = serializers.JSONField()
    detail = serializers.CharField(allow_blank=True)


class ArrayObjectOut(serializers.Serializer):
    kind = serializers.CharField()
    name = serializers.CharField()


class VolumeOut(serializers.Serializer):
    cluster = serializers.CharField()
    namespace = serializers.CharField()
    kind = serializers.ChoiceField(choices=["VolumeAccess", "InlineVolumeAccess"])
    name = serializers.CharField(help_text="The PV's name, or `<pod> volume <volume>` for an inline volume.")
    subject = serializers.CharField()
    pvc = serializers.CharField(allow_null=True)
    pv = serializers.CharField(allow_null=True)
    namespaces = serializers.ListField(child=serializers.CharField())
    path = serializers.CharField(allow_null=True)
    backend = serializers.CharField(allow_null=True)
    driver = serializers.CharField(allow_null=True)
    array = serializers.CharField(allow_null=True)
    array_status = serializers.CharField(allow_null=True)
    object = ArrayObjectOut(allow_null=True, help_text="The array object that holds the data.")
    protocol = serializers.CharField(allow_null=True)
    problem = serializers.CharField(allow_blank=True)
    gates = GateOut(many=True)
    unknown = serializers.BooleanField(help_text="Some gate was not read: whom it admits is unknown.")
    admitted = PartyOut(many=True)


# --- arrays, backends, rules ----------------------------------------------------------------------


class ArrayOut(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField(help_text="ontap or solidfire.")
    endpoint = serializers.CharField(help_text="Where the dashboard reads it (credentials are never shown).")
    enabled = serializers.BooleanField()


class BackendOut(serializers.Serializer):
    cluster = serializers.CharField()
    snapshot = serializers.IntegerField()
    uuid = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    driver = serializers.CharField(allow_blank=True, allow_null=True)
    svm = serializers.CharField(allow_blank=True, allow_null=True)
    array = serializers.CharField(
        allow_blank=True, allow_null=True, help_text="The configured array it links to."
    )
    status = serializers.CharField(help_text="Where its access control was read from, or why not.")
    unread = serializers.BooleanField(help_text="Its access control was read from no array nor config.")
    volumes = serializers.IntegerField(help_text="How many of the caller's volumes it holds.")


class RuleOut(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField()
    severity = severity_field()
    guideline = serializers.CharField()
    section = serializers.CharField(allow_blank=True, help_text="The section of docs/rules.md that lists it.")
    fires_when = serializers.CharField(allow_blank=True)
    attributed_to = serializers.CharField()
    reads = serializers.ListField(child=serializers.CharField())
    evidence_key = serializers.CharField()
    remediation = serializers.CharField()


# --- findings -------------------------------------------------------------------------------------


class SuppressionOut(serializers.Serializer):
    reason = serializers.CharField(
        allow_blank=True, help_text="Empty beside a finding involving another tenant."
    )
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    by = serializers.CharField(allow_blank=True)


class FindingOut(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    rule = serializers.CharField(help_text="The rule's slug.")
    severity = severity_field()
    status = serializers.ChoiceField(choices=[s for s in STATUSES if s != "all"])
    cluster = serializers.CharField()
    namespaces = serializers.ListField(
        child=serializers.CharField(), help_text="The namespaces it concerns that the caller may see."
    )
    cluster_wide = serializers.BooleanField(
        help_text="It concerns the cluster as a whole (every namespace), not some namespaces' own data."
    )
    title = serializers.CharField()
    detail = serializers.CharField(allow_blank=True)
    evidence = serializers.DictField(child=serializers.JSONField(), help_text="Empty when redacted.")
    evidence_key = serializers.CharField()
    remediation = serializers.CharField(allow_blank=True)
    guideline = serializers.CharField(allow_blank=True)
    first_seen = serializers.DateTimeField()
    at_least_since = serializers.DateTimeField(allow_null=True)
    last_seen = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    suppression = SuppressionOut(allow_null=True, help_text="The suppression in force, if any.")
    paths = PathsOut()
    path_count = serializers.IntegerField(help_text="How many paths the caller sees.")
    redacted = serializers.BooleanField(
        help_text="It involves another tenant's namespaces: title, detail and evidence are withheld."
    )


class EventOut(serializers.Serializer):
    at = serializers.DateTimeField()
    seq = serializers.IntegerField(allow_null=True)
    kind = serializers.CharField()
    detail = serializers.DictField(child=serializers.JSONField())


class FindingDetailOut(FindingOut):
    history = EventOut(many=True)


class SuppressIn(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why the finding is accepted.")
    expires_at = serializers.DateTimeField(help_text="When the suppression ends (in the future).")


# --- timeline -------------------------------------------------------------------------------------


class TimelineStepOut(serializers.Serializer):
    """From `start` until `end`: open findings per severity and the grade (the pages' timeline)."""

    cluster = serializers.CharField()
    namespace = serializers.CharField(
        allow_null=True, help_text="Null: the cluster, as far as the caller sees it."
    )
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(
        allow_null=True,
        help_text="The next step's start, or `until` (null for the last step without `until`: still so).",
    )
    open_findings = SeverityCounts(
        help_text="Open, unsuppressed findings per severity (a namespace's: those attributed to it then)."
    )
    grade = serializers.CharField(
        allow_null=True,
        help_text="The namespace's grade (its own exposure); without a namespace the grade of the "
        "cluster-wide findings (admins; null for others).  Null where none was recorded.",
    )
    grade_counts = SeverityCounts(
        allow_null=True,
        help_text="The open findings the grade counts (graded severities of its own exposure).",
    )
