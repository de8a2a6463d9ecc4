"""One snapshot's analysis: rules → findings (with their life) → exposure paths → grades.

Runs right after the snapshot's inventory and access records are made, in the same worker, in two
steps: `judge` runs the rules (while PostgreSQL still takes in the run's last rows, when the
derivation hands its state over), `record` writes findings, paths and grades once they are in.  A
quiet snapshot (no inventory row written, the same admin decisions, nothing held open or failed
last time) re-runs no rule: its findings are those still open, so only grades are refreshed (a
suppression may have expired).  Otherwise only the rules whose inputs (`Rule.inputs`, down to the
fields of a kind each reads: inventory/field_changes.py) are in the snapshot's change set re-run;
the others' findings and paths stand as they are, when the previous analysis is comparable (same
version and settings, both snapshots read everything, nothing failed or held); a namespace-local
rule reached only through its local kinds (`Rule.namespace_local`) is judged in the namespaces
those writes touched, its findings and paths about the others standing.  The exposure paths
(every path into a namespace's data, inside its tenant and from platform workloads included) are
stored like inventory, one record per namespace and rule, under the derived scope, so an unchanged
rule's paths cost no row.
"""

import logging
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import orjson
from django.db.models import Count

from arrays.volume_access import Derivation
from exposure.analysis.context import Context
from exposure.analysis.settings import AnalysisSettings
from exposure.engine import Evaluation, evaluate
from exposure.findings import reconcile
from exposure.grades import record_grades
from exposure.models import Finding
from exposure.rules import ALL_RULES
from exposure.rules.namespace_labels_writable import SLUG as LABELS_WRITABLE
from exposure.rules.namespace_labels_writable import forgers as label_forgers
from inventory.constants import ARRAY_RECORDS
from inventory.history import StoredObject, Versions, current_versions, stored_data, write_versions
from inventory.json_column import SerialisedJSON
from inventory.kept_fields import digest_of
from inventory.models import Snapshot
from inventory.phase_clock import PhaseClock
from inventory.sources.parsing import gc_paused
from inventory.state import DERIVED_SCOPE, SnapshotState
from inventory.written_behind import rows_written_behind
from tenancy.ownership import derived_owners

logger = logging.getLogger(__name__)

# Bump when a rule or the path shape changes: the next snapshot then analyses anew.
# 2: findings on array records rest on the join's kinds; 3: cluster-wide hits; 4: rules' reads
# completed (tests/test_rule_inputs.py), so findings' `depends` change
ANALYSIS_VERSION = 4
EXPOSURE_PATHS = "ExposurePaths"


def analyse(
    snapshot: Snapshot,
    derivation: Derivation,
    changed: frozenset[str] | None = None,
    touched: Mapping[str, frozenset[str]] | None = None,
) -> dict:
    """Analyse `snapshot` (complete or partial) and return what it did, also kept in its facts.
    `changed`: the snapshot's change set (inventory/snapshotting.py), None runs every rule;
    `touched`: the namespaces each kind's writes touched (a namespace-local rule judges only those)."""
    return record(judge(snapshot, derivation, changed, touched))


@dataclass
class Judgement:
    """What `judge` found: the rules' hits over one snapshot, not yet recorded.  `quiet`: no rule
    re-ran (the previous analysis stands); `error`: the rules could not be judged (`record` then
    raises it, so the analysis fails as a whole and resolves nothing)."""

    snapshot: Snapshot
    derivation: Derivation
    clock: PhaseClock
    settings: AnalysisSettings | None = None
    settings_digest: str = ""  # the admin's decisions the rules were judged under
    previous: dict = field(default_factory=dict)
    quiet: bool = False
    context: Context | None = None
    carried: frozenset[str] = frozenset()
    evaluation: Evaluation | None = None
    forgers: dict[str, list[str]] = field(default_factory=dict)  # namespace -> who may relabel it
    error: BaseException | None = None


def judge(
    snapshot: Snapshot,
    derivation: Derivation,
    changed: frozenset[str] | None,
    touched: Mapping[str, frozenset[str]] | None = None,
) -> Judgement:
    """The rules over `snapshot`: reads its settings and the previous snapshot's facts, the rest from
    memory when the derivation hands its state over (so that the run can judge while PostgreSQL is
    still taking in its rows: inventory/written_behind.py), writes nothing."""
    judgement = Judgement(snapshot, derivation, PhaseClock())
    try:
        # Hits, paths and findings are acyclic: the collector's full passes over the snapshot's
        # millions of inventory containers would only cost time (the rules pause it too, engine.py).
        with gc_paused():
            _judge(judgement, changed, touched or {})
    except Exception as error:  # recorded as the analysis's failure (inventory/snapshotting.py)
        judgement.error = error
    judgement.clock.lap("rules")
    return judgement


def _judge(
    judgement: Judgement, changed: frozenset[str] | None, touched: Mapping[str, frozenset[str]]
) -> None:
    snapshot, derivation = judgement.snapshot, judgement.derivation
    settings = judgement.settings = AnalysisSettings.for_cluster(snapshot.cluster)
    settings_digest = judgement.settings_digest = settings.digest()
    previous_snapshot = _previous_snapshot(snapshot)
    previous = ((previous_snapshot.facts if previous_snapshot else None) or {}).get("analysis") or {}
    judgement.previous = previous
    judgement.quiet = derivation.state is None and _still_holds(previous, settings_digest)
    if judgement.quiet:
        return
    state = derivation.state or SnapshotState.load(snapshot)
    context = judgement.context = Context(state, settings, derivation.records)
    judgement.carried, within = _rules_to_carry(
        snapshot, previous_snapshot, previous, settings_digest, changed, touched
    )
    judgement.evaluation = evaluate(context, unchanged=judgement.carried, within=within)
    # The rule's own hits when it ran (the same evaluation, its time spent once), else worked out.
    judgement.forgers = label_forgers(context, judgement.evaluation.hits.get(LABELS_WRITABLE))


def record(judgement: Judgement) -> dict:
    """Findings, paths and grades of what `judge` found, written; returns what the analysis did, also
    kept in the snapshot's facts."""
    if judgement.error is not None:
        raise judgement.error
    judgement.clock.resume()  # the run may have waited for its rows since judging
    with gc_paused():
        return _record(judgement)


def _record(judgement: Judgement) -> dict:
    snapshot, clock, previous = judgement.snapshot, judgement.clock, judgement.previous
    if judgement.quiet:
        namespaces = previous.get("namespaces") or []
        facts = {**previous, "reused": True, "grade_rows": record_grades(snapshot, namespaces)}
    else:
        context, evaluation, carried, settings = (
            judgement.context,
            judgement.evaluation,
            judgement.carried,
            judgement.settings,
        )
        state = context.state
        # The worker's peak is where the rules end: what follows needs none of their indexes.
        judgement.derivation.records = None
        context.release_indexes()
        # PostgreSQL takes the paths in (tens of thousands of documents at scale) while the findings
        # are reconciled on the run's own connection; the block's end waits for the last of them.
        with rows_written_behind():
            path_rows, paths_moved = _store_paths(snapshot, evaluation, carried)
            clock.lap("paths")
            reconciliation = reconcile(snapshot, context, evaluation, carried)
            clock.lap("findings")
        clock.lap("paths written")
        namespaces = state.namespace_names()
        owners = derived_owners(
            state, list(settings.owner_keys), judgement.forgers, settings.owner_label_trust
        )
        clock.lap("owners")
        facts = {
            "version": ANALYSIS_VERSION,
            "settings": judgement.settings_digest,
            "namespaces": namespaces,
            "carried": sorted(carried),
            "violations": {
                **{slug: previous["violations"][slug] for slug in carried},
                **{slug: sum(1 for hit in hits if hit.violation) for slug, hits in evaluation.hits.items()},
                **_open_findings(snapshot, evaluation.within),
            },
            "paths": {
                **{slug: previous["paths"][slug] for slug in carried},
                **{slug: sum(len(hit.paths) for hit in hits) for slug, hits in evaluation.hits.items()},
                **{slug: previous["paths"][slug] + moved for slug, moved in paths_moved.items()},
            },
            "within": {slug: len(namespaces) for slug, namespaces in evaluation.within.items()},
            "rule_seconds": evaluation.seconds,
            "failed": evaluation.failed,
            "skipped": evaluation.skipped,
            **reconciliation.as_dict(),
            "path_rows": path_rows,
            "owners": owners,
            "grade_rows": record_grades(snapshot, namespaces),
        }
    clock.lap("grades")
    # Where the analysis's time went (wall and CPU per stage): the snapshot's log line says it.
    facts["stage_seconds"] = clock.as_dict()
    facts["seconds"] = round(clock.seconds, 3)
    snapshot.facts = {**(snapshot.facts or {}), "analysis": facts}
    return facts


def _previous_snapshot(snapshot: Snapshot) -> Snapshot | None:
    return (
        Snapshot.objects.filter(
            cluster_id=snapshot.cluster_id, seq__lt=snapshot.seq, status__in=Snapshot.VISIBLE
        )
        .order_by("-seq")
        .only("seq", "unread", "facts")
        .first()
    )


def _still_holds(previous: dict, settings: str) -> bool:
    """Whether the previous analysis holds for what did not change since: made by these rules under
    these settings, holding nothing open for want of a read, with no rule failed."""
    return (
        previous.get("version") == ANALYSIS_VERSION
        and previous.get("settings") == settings
        and not previous.get("held")
        and not previous.get("failed")
    )


def _rules_to_carry(
    snapshot: Snapshot,
    previous_snapshot: Snapshot | None,
    previous: dict,
    settings: str,
    changed: frozenset[str] | None,
    touched: Mapping[str, frozenset[str]],
) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """The rules none of whose inputs changed since the previous analysis, which therefore still
    holds for them, and the namespace-local rules whose inputs changed only in some namespaces
    (`Rule.namespace_local`), with those namespaces: none when that analysis is not comparable or
    the change set is unknown."""
    comparable = (
        changed is not None
        and previous_snapshot is not None
        and _still_holds(previous, settings)
        and not snapshot.unread  # what a partial snapshot holds open is decided by running the rules
        and not previous_snapshot.unread
    )
    if not comparable:
        return frozenset(), {}
    if (previous_snapshot.facts or {}).get("backends") != (snapshot.facts or {}).get("backends"):
        changed = changed | {ARRAY_RECORDS}  # a backend linked to another configured array
    ran_before = set(previous.get("paths") or {}) & set(previous.get("violations") or {})
    carried, within = set(), {}
    for rule in ALL_RULES:
        if rule.slug not in ran_before:
            continue
        if not rule.changed_by(changed):
            carried.add(rule.slug)
        elif (namespaces := rule.namespaces_to_judge(changed, touched)) is not None:
            within[rule.slug] = namespaces
    return frozenset(carried), within


def _open_findings(snapshot: Snapshot, slugs) -> dict[str, int]:
    """The open findings of each rule in `slugs` (a namespace-local rule's violations: one per
    finding), as reconciled."""
    if not slugs:
        return {}
    counted = (
        Finding.objects.filter(
            cluster_id=snapshot.cluster_id, rule__in=sorted(slugs), status=Finding.Status.OPEN
        )
        .values("rule")
        .annotate(count=Count("pk"))
    )
    return {**dict.fromkeys(slugs, 0), **{row["rule"]: row["count"] for row in counted}}


def exposure_paths(evaluation) -> dict[tuple[str, str], StoredObject]:
    """The exposure paths as stored: one record per namespace and rule, keyed (namespace, rule), of
    every path of that rule into the namespace's data, sorted, with whether its hit is a violation.
    Per rule, so that a rule that did not re-run keeps its records as they are."""
    found: dict[tuple[str, str], list[bytes]] = defaultdict(list)
    for rule, hit in evaluation.all_hits():
        verdict = b',"violation":true}' if hit.violation else b',"violation":false}'
        for path in hit.paths:
            # Serialised once (orjson turns the dataclass into JSON in C), the verdict its last key:
            # the same JSON serves the order, the digest and the copy into the database.
            found[(path.namespace, rule.slug)].append(orjson.dumps(path)[:-1] + verdict)
    stored = {}
    for key, paths in sorted(found.items()):
        paths.sort()
        data = SerialisedJSON(b'{"paths":[' + b",".join(paths) + b"]}")
        stored[key] = StoredObject("", data, digest_of(data.json))
    return stored


def _store_paths(
    snapshot: Snapshot, evaluation: Evaluation, carried: frozenset[str]
) -> tuple[int, dict[str, int]]:
    """Write the path records; returns the rows written and, for each rule judged in some namespaces
    only, how many more paths it has than before (its records elsewhere stand as they are)."""
    current = current_versions(snapshot.cluster_id, EXPOSURE_PATHS, DERIVED_SCOPE, snapshot.seq)
    within = evaluation.within
    found = exposure_paths(evaluation)
    # The records of rules not re-run, and of rules re-judged elsewhere: their stored digests, so
    # nothing of them is read or written.
    standing = {
        key: StoredObject("", None, version[1])
        for key, version in current.items()
        if key[1] in carried or (key[1] in within and key[0] not in within[key[1]])
    }
    moved = _paths_moved(evaluation, current, found)
    stats = write_versions(
        snapshot.cluster_id,
        snapshot.seq,
        EXPOSURE_PATHS,
        {**standing, **found},
        scope=DERIVED_SCOPE,
        current=current,
    )
    return stats.inserted + stats.closed, moved


def _paths_moved(evaluation: Evaluation, current: Versions, found: dict) -> dict[str, int]:
    """For each rule judged in some namespaces only: its paths there now less those its records
    there held (only the records that changed are read)."""
    within = evaluation.within
    now = Counter(
        (path.namespace, slug) for slug in within for hit in evaluation.hits[slug] for path in hit.paths
    )
    judged = {key for key in (*current, *found) if key[1] in within and key[0] in within[key[1]]}
    moved_keys = [
        key
        for key in judged
        if key not in current or key not in found or found[key].digest != current[key][1]
    ]
    before = stored_data([current[key][0] for key in moved_keys if key in current])
    moved = dict.fromkeys(within, 0)
    for key in moved_keys:
        held = before.get(current[key][0]) if key in current else None
        moved[key[1]] += now[key] - len((held or {}).get("paths") or [])
    return moved
