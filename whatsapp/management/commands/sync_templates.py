from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from templates_app.management.progress import ProgressBar
from whatsapp import services
from whatsapp.client import PlatformError


class Command(BaseCommand):
    help = (
        "Fetch every message template of the WhatsApp Business Account (GET /{WABA_ID}/message_templates, "
        "all pages) and create or update the local catalogue; templates no longer at the platform are "
        "marked DELETED. Without credentials, the sandbox serves the demo catalogue."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--progress",
            action="store_true",
            help="Show progress even when stderr is not a terminal (it always is on a terminal).",
        )
        parser.add_argument(
            "--list", action="store_true", dest="show_all", help="List the templates of every group."
        )

    def handle(self, *args, progress=False, show_all=False, **options):
        bar = (
            ProgressBar(self.stderr, live=self.stderr.isatty()) if progress or self.stderr.isatty() else None
        )
        try:
            report = services.sync_template_catalogue(progress=bar)
        except PlatformError as error:
            raise CommandError(f"Sync failed, nothing was changed: {error}") from error
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        finally:
            if bar:
                bar.close()
        self.stdout.write(self.style.SUCCESS(f"Synced: {report.summary}."))
        groups = [
            ("created", report.created),
            ("updated", report.updated),
            ("unchanged", report.unchanged),
            ("removed at the platform (now DELETED)", report.removed_at_platform),
            ("skipped", report.skipped),
        ]
        for title, names in groups:
            if names and (show_all or title.startswith(("removed", "skipped"))):
                self.stdout.write(f"{title[0].upper()}{title[1:]}:")
                for name in names:
                    self.stdout.write(f"  {name}")
