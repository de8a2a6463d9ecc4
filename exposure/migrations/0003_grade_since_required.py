"""Every grade row says since when its letter holds (0002 filled in the stored ones)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("exposure", "0002_grades_cluster_wide_and_since")]

    operations = [
        migrations.AlterField(
            model_name="namespacestatus",
            name="grade_since",
            field=models.PositiveIntegerField(help_text="Sequence number since which the letter is this one."),
        ),
        migrations.AlterField(
            model_name="namespacestatus",
            name="grade_since_at",
            field=models.DateTimeField(help_text="When the grade took this letter."),
        ),
    ]
