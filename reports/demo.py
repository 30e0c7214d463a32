"""The demo's rate card: the sample rates (examples, not the platform's prices), unless rates exist."""

from django.core.management import call_command

from reports.models import Rate


def load_sample_rates() -> int:
    """Load fixtures/sample_rates.json when the rate card is empty; return how many rates were loaded."""
    if Rate.objects.exists():
        return 0
    call_command("loaddata", "sample_rates", verbosity=0)
    return Rate.objects.count()
