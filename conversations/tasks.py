from celery import shared_task

from conversations import services


@shared_task(name="conversations.expire_due_conversations", ignore_result=True)
def expire_due_conversations() -> int:
    """Beat runs this every CONVERSATION_SWEEP_SECONDS (config/settings.py). Safe to overlap."""
    return services.expire_due_conversations()
