import time
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from reports import services


class Command(BaseCommand):
    help = (
        "Roll up the report figures of every business day old enough (what the reports.refresh_rollup "
        "task does every few minutes): on an empty rollup, a backfill of all history. With --from/--to, "
        "also compute those days again (after correcting data, say); days inside the "
        f"{services.ROLLUP_HORIZON.days}-day horizon are always counted live and never rolled up. Waits "
        "for a run in progress."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", type=date.fromisoformat, help="First day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="last", type=date.fromisoformat, help="Last day, YYYY-MM-DD.")

    def handle(self, *args, first=None, last=None, **options):
        if (first is None) != (last is None):
            raise CommandError("--from and --to go together.")
        if first is not None and last < first:
            raise CommandError("--to comes before --from.")
        started = time.perf_counter()
        run = services.refresh_rollup(
            now=timezone.now(), recompute=(first, last) if first else None, wait=True
        )
        self.stdout.write(f"{run} ({time.perf_counter() - started:.1f} s)")
