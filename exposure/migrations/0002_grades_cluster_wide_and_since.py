"""Findings say whether they are cluster-wide (graded as the cluster's); grade rows say since when
their letter holds.  Both are filled in for the rows already stored (0003 then requires the latter:
apart, so that PostgreSQL alters no table with the backfill's updates pending)."""

from django.db import migrations, models

# The rules whose every finding is cluster-wide, as the rules decide from now on (exposure/rules/).
ALWAYS_CLUSTER_WIDE = ("pv-writable-by-non-admins", "tenant-has-cluster-scope", "pv-visible-to-non-admins")


def mark_cluster_wide(apps, schema_editor):
    Finding = apps.get_model("exposure", "Finding")
    Finding.objects.filter(rule__in=ALWAYS_CLUSTER_WIDE).update(cluster_wide=True)
    # namespace-labels-writable: cluster-wide when the grant patches any namespace or creates them.
    for finding in Finding.objects.filter(rule="namespace-labels-writable").only("pk", "evidence"):
        evidence = finding.evidence if isinstance(finding.evidence, dict) else {}
        granted = evidence.get("granted") if isinstance(evidence.get("granted"), list) else []
        if evidence.get("scope") == "every namespace" or "create namespaces" in granted:
            Finding.objects.filter(pk=finding.pk).update(cluster_wide=True)


def fill_grade_since(apps, schema_editor):
    """Since = the start of the unbroken run of intervals with the same letter (a gap starts anew)."""
    NamespaceStatus = apps.get_model("exposure", "NamespaceStatus")
    previous, batch = None, []
    rows = NamespaceStatus.objects.order_by("cluster_id", "namespace", "valid_from").only(
        "cluster_id", "namespace", "grade", "valid_from", "valid_to", "valid_from_at"
    )
    for row in rows.iterator(chunk_size=2000):
        carried = (
            previous is not None
            and (previous.cluster_id, previous.namespace) == (row.cluster_id, row.namespace)
            and previous.valid_to == row.valid_from
            and previous.grade == row.grade
        )
        row.grade_since, row.grade_since_at = (
            (previous.grade_since, previous.grade_since_at) if carried else (row.valid_from, row.valid_from_at)
        )
        batch.append(row)
        if len(batch) >= 1000:
            NamespaceStatus.objects.bulk_update(batch, ["grade_since", "grade_since_at"])
            batch = []
        previous = row
    NamespaceStatus.objects.bulk_update(batch, ["grade_since", "grade_since_at"])


class Migration(migrations.Migration):
    dependencies = [("exposure", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="finding",
            name="cluster_wide",
            field=models.BooleanField(
                default=False,
                help_text="Its actor reaches every namespace by the nature of its grant: graded as the "
                "cluster's (still attributed to every namespace it reaches).",
            ),
        ),
        migrations.AddField(
            model_name="namespacestatus",
            name="grade_since",
            field=models.PositiveIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="namespacestatus",
            name="grade_since_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(mark_cluster_wide, migrations.RunPython.noop),
        migrations.RunPython(fill_grade_since, migrations.RunPython.noop),
    ]
