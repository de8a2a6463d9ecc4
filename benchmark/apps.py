from django.apps import AppConfig


class BenchmarkConfig(AppConfig):
    """Development only: `manage.py bench` (issue 13's benchmark) and its simulator process."""

    name = "benchmark"
    verbose_name = "Benchmark"
