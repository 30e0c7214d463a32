"""The demo's rate card: the sample rates (examples, not the platform's prices), unless rates exist, and
the platform's schedule of what is free under per-message pricing, unless rules exist."""

from django.core.management import call_command

from reports.models import FreeMessageRule, Rate


def load_sample_rates() -> int:
    """Load fixtures/sample_rates.json when the rate card is empty, and fixtures/free_message_rules.json
    when no rule of what is free exists (migration 0006 starts every database with them; a test database
    flushed between tests has none); return how many rates were loaded."""
    if not FreeMessageRule.objects.exists():
        call_command("loaddata", "free_message_rules", verbosity=0)
    if Rate.objects.exists():
        return 0
    call_command("loaddata", "sample_rates", verbosity=0)
    return Rate.objects.count()
