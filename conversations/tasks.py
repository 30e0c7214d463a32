from celery import shared_task

from conversations import services


@shared_task(name="conversations.expire_due_conversations", ignore_result=True)
def expire_due_conversations() -> int:
    """Beat runs this every CONVERSATION_SWEEP_SECONDS (config/settings.py). Safe to overlap."""
    return services.expire_due_conversations()


@shared_task(name="conversations.end_due_snoozes", ignore_result=True)
def end_due_snoozes() -> int:
    """Beat runs this every minute: tidying only (a snooze ends at its instant for every read)."""
    return services.end_due_snoozes()
