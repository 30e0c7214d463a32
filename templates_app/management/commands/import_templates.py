import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from templates_app import services


class Command(BaseCommand):
    help = (
        "Import templates from a JSON file in the platform's shape (as written by export_templates, or a "
        "listing page saved from the API), matched by name and language. A template WhatsApp has taken (an "
        "id, or a status other than PENDING) is only checked to be a template; a new or changed draft gets "
        "the creation rules. All or nothing: if any is refused, nothing is imported and each refusal is "
        "listed with its reason. New and changed templates are PENDING (a file cannot approve a template): "
        "sync afterwards."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The JSON file, or - for stdin.")
        parser.add_argument("--dry-run", action="store_true", help="Check and report; import nothing.")

    def handle(self, *args, path, dry_run=False, **options):
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {path}: {error}") from error
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise CommandError(
                f"{path} is not valid JSON: {error.msg.lower()} at line {error.lineno}, column {error.colno}"
            ) from error
        report = services.import_templates(document, dry_run=dry_run)
        for title, names in (
            ("new", report.created),
            ("changed (PENDING until approved)", report.updated),
            ("unchanged", report.unchanged),
        ):
            for name in names:
                self.stdout.write(f"  {title}: {name}")
        for label, errors in report.refused:
            self.stderr.write(f"Refused {label}:")
            for field, messages in errors.items():
                for message in messages:
                    self.stderr.write(f"  {field}: {message}")
        if report.refused:
            raise CommandError(report.summary[0].upper() + report.summary[1:] + ".")
        style = self.style.SUCCESS if report.applied else self.style.WARNING
        self.stdout.write(style(report.summary[0].upper() + report.summary[1:] + "."))
