"""`manage.py expire_conversations`: the sweep Celery beat runs (R8), on demand, with a dry run that lists
what the sweep would mark. Conversations come from the public services on PostgreSQL; nothing is mocked."""

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command

from conversations import services
from conversations.models import Conversation
from tests import factories
from tests.factories import at

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def sweep(*options: str) -> str:
    out = io.StringIO()
    call_command("expire_conversations", *options, stdout=out)
    return out.getvalue()


def template_sent(when, category: str) -> Conversation:
    with time_machine.travel(when, tick=False):
        message = services.send_template(
            customer=factories.customer(), template=factories.template(category=category), params=["Ann"]
        )
    return message.conversation


def text_sent(when) -> Conversation:
    """A reply at `when` to a customer who wrote ten minutes before: it opens a service conversation."""
    wa_id = factories.new_wa_id()
    wrote = when - timedelta(minutes=10)
    with time_machine.travel(wrote, tick=False):
        inbound = services.receive_message(wa_id=wa_id, body="hi", wamid=f"wamid.{wa_id}", timestamp=wrote)
    with time_machine.travel(when, tick=False):
        return services.send_text(customer=inbound.customer, body="Hello").conversation


@pytest.fixture
def conversations():
    """M1 ends Tue 10:00, S1 Tue 09:10, U1 Tue 11:00 (24 h after each opened, R7)."""
    return {
        "M1": template_sent(at(0, "10:00"), "MARKETING"),
        "S1": text_sent(at(0, "09:10")),
        "U1": template_sent(at(0, "11:00"), "UTILITY"),
    }


def states() -> dict[int, tuple[str, object]]:
    return {c.pk: (c.status, c.status_changed_at) for c in Conversation.objects.all()}


def test_R8_dry_run_lists_the_due_conversations_by_category_and_changes_nothing(conversations):
    """R8: at Tue 10:00 M1 and S1 have ended and are still marked open; the dry run names them, by
    category, and leaves every row as it was."""
    before = states()
    output = sweep("--dry-run", "--now", at(1, "10:00").isoformat())
    assert states() == before
    m1, s1, u1 = conversations["M1"], conversations["S1"], conversations["U1"]
    assert "2 conversation(s) would be marked expired as of 2026-01-06T10:00:00+00:00" in output
    assert "Marketing: 1\n" in output and "Service: 1\n" in output and "Utility" not in output
    assert f"#{m1.pk} of customer #{m1.customer_id}, expired at 2026-01-06T10:00:00+00:00" in output
    assert f"#{s1.pk} of customer #{s1.customer_id}, expired at 2026-01-06T09:10:00+00:00" in output
    assert f"#{u1.pk} " not in output


def test_R8_the_sweep_marks_what_the_dry_run_listed(conversations):
    """R8: the real run marks exactly the conversations the dry run listed, as of --now, once."""
    now = at(1, "10:00")
    listed = sweep("--dry-run", "--now", now.isoformat())
    marked = sweep("--now", now.isoformat())
    assert marked == "Marked 2 conversation(s) expired as of 2026-01-06T10:00:00+00:00.\n"
    expired = Conversation.objects.filter(status=Conversation.Status.EXPIRED)
    assert set(expired.values_list("pk", flat=True)) == {conversations["M1"].pk, conversations["S1"].pk}
    assert all(f"#{pk} " in listed for pk in expired.values_list("pk", flat=True))
    assert set(expired.values_list("status_changed_at", flat=True)) == {now}
    assert Conversation.objects.get(pk=conversations["U1"].pk).status == Conversation.Status.OPEN
    assert sweep("--now", now.isoformat()).startswith("Marked 0 conversation(s)")  # idempotent
    assert "0 conversation(s) would be marked" in sweep("--dry-run", "--now", now.isoformat())


def test_R8_a_conversation_is_due_at_its_expires_at_not_a_second_before(conversations):
    """R8: open at t means t < expires_at, so M1 (expires_at Tue 10:00) is due at Tue 10:00:00 exactly,
    and not at 09:59:59 — for the dry run and the sweep alike."""
    m1 = conversations["M1"]
    just_before = at(1, "09:59:59").isoformat()
    assert f"#{m1.pk} " not in sweep("--dry-run", "--now", just_before)
    assert sweep("--now", just_before).startswith("Marked 1 ")  # S1 only
    m1.refresh_from_db()
    assert m1.status == Conversation.Status.OPEN
    assert f"#{m1.pk} " in sweep("--dry-run", "--now", m1.expires_at.isoformat())
    assert sweep("--now", m1.expires_at.isoformat()).startswith("Marked 1 ")
    m1.refresh_from_db()
    assert (m1.status, m1.status_changed_at) == (Conversation.Status.EXPIRED, at(1, "10:00"))


def test_R8_the_sweep_runs_in_batches_of_the_given_size(conversations):
    """R8: a small --batch-size still marks every due conversation (one a batch, all three by Wed)."""
    assert sweep("--now", at(2, "00:00").isoformat(), "--batch-size", "1").startswith("Marked 3 ")
    assert not Conversation.objects.filter(status=Conversation.Status.OPEN).exists()


def test_without_now_the_command_sweeps_as_of_the_clock(conversations):
    with time_machine.travel(at(1, "09:30"), tick=False):
        assert sweep() == "Marked 1 conversation(s) expired as of 2026-01-06T09:30:00+00:00.\n"  # S1


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        (["--now", "2026-01-06T10:00:00"], "no UTC offset"),
        (["--now", "Tuesday"], "not an ISO 8601"),
        (["--batch-size", "0"], "not a whole number of 1 or more"),
    ],
)
def test_the_command_refuses_a_naive_now_and_an_empty_batch(options, complaint):
    with pytest.raises(CommandError, match=complaint):
        sweep(*options)
