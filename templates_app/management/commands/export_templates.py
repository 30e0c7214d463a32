from pathlib import Path

from django.core.management.base import BaseCommand

from templates_app import services
from templates_app.models import MessageTemplate


class Command(BaseCommand):
    help = (
        "Write the template catalogue as JSON in the platform's own shape (a list of {name, language, "
        "category, status, parameter_format, components}), sorted by name and language so it diffs well "
        "in a pull request. PATH '-' (the default) writes to stdout."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", default="-", help="File to write, or - for stdout.")
        parser.add_argument(
            "--status", action="append", default=[], help="Only templates in this status (repeatable)."
        )

    def handle(self, *args, path="-", status=(), **options):
        queryset = MessageTemplate.objects.all()
        if status:
            queryset = queryset.filter(status__in=[s.upper() for s in status])
        text = services.export_json(queryset)
        count = queryset.count()
        if path == "-":
            self.stdout.write(text, ending="")
            return
        Path(path).write_text(text, encoding="utf-8")
        self.stderr.write(f"Exported {count} template{'s' if count != 1 else ''} to {path}.")
