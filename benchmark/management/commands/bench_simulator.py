"""`manage.py bench_simulator`: the simulator's own process for `manage.py bench` (see
benchmark/simulator_process.py); not meant to be run by hand."""

from pathlib import Path

from django.core.management.base import BaseCommand

from benchmark.simulator_process import serve


def _scale(value: str):
    return int(value) if value.isdigit() else value


class Command(BaseCommand):
    help = "Serve the simulator with pre-rendered pages for the benchmark (steered on stdin)."

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=_scale, required=True)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--directory", required=True)
        parser.add_argument("--credentials-dir", required=True)
        parser.add_argument("--page-size", type=int, default=500)

    def handle(self, *args, scale, seed, directory, credentials_dir, page_size, **options):
        serve(scale, seed, Path(directory), Path(credentials_dir), page_size)
