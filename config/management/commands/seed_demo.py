from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.demo import DEMO_CUSTOMERS, DEMO_USERS, seed_demo


class Command(BaseCommand):
    help = (
        "Create or refresh local demo data: an agent, a supervisor and an admin with documented passwords, "
        "approved templates of each category, and customers in every window/conversation state."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--history-days",
            type=int,
            default=42,
            help="Days of history before now for the reports (customers in ten countries, campaigns, "
            "replies in and out of time); 0 for none. Default: 42.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off. The demo users have public passwords: never on a real deployment.",
        )

    def handle(self, *args, force=False, history_days=42, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates users with public passwords, so it only runs with DJANGO_DEBUG=true "
                "(or --force on a machine that is not a real deployment)."
            )
        if history_days < 0:
            raise CommandError("--history-days cannot be negative.")
        counts = seed_demo(history_days=history_days)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: {counts['users']} users, {counts['templates']} templates, "
                f"{counts['customers']} customers"
                + (
                    f", and {history_days} days of history: {counts['history_customers']} more customers, "
                    f"{counts['history_messages']} messages."
                    if counts["history_customers"]
                    else "."
                )
            )
        )
        self.stdout.write("Log in with (local demo only):")
        for username, password, role, _first_name, _is_staff in DEMO_USERS:
            self.stdout.write(f"  {username:<11} {password:<16} ({role})")
        self.stdout.write("Customers:")
        for customer in DEMO_CUSTOMERS:
            self.stdout.write(f"  {customer.name:<14} {customer.handle:<15} {customer.state}")
