"""Celery tasks of the channel: each takes ids, calls one service, and retries only what may pass."""

from celery import shared_task

from whatsapp import media, reading, services


@shared_task(name="whatsapp.send_message", bind=True, max_retries=None, ignore_result=True)
def send_message(self, message_id: int) -> str:
    """Hand a queued message to the platform; posted at most once (see services.deliver_message)."""
    outcome = services.deliver_message(message_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.result


@shared_task(name="whatsapp.mark_read", bind=True, max_retries=None, ignore_result=True)
def mark_read(self, customer_id: int, claimed: str = "") -> str:
    """Mark the customer's latest message read on WhatsApp, once (see reading.mark_read)."""
    outcome = reading.mark_read(customer_id, claimed=claimed, attempt=self.request.retries + 1)
    if outcome.retry_in is not None:
        raise self.retry(args=(customer_id, outcome.wamid), countdown=outcome.retry_in)
    return outcome.result


@shared_task(name="whatsapp.typing_indicator", ignore_result=True)
def typing_indicator(customer_id: int) -> str:
    """Show the customer that an agent is typing (see reading.indicate_typing); never retried."""
    return reading.indicate_typing(customer_id).result


@shared_task(name="whatsapp.process_delivery", ignore_result=True)
def process_delivery(delivery_id: int) -> None:
    services.process_delivery(delivery_id)


@shared_task(name="whatsapp.retry_deliveries", ignore_result=True)
def retry_deliveries() -> int:
    return services.retry_deliveries()


@shared_task(name="whatsapp.requeue_outbound", ignore_result=True)
def requeue_outbound() -> int:
    return services.requeue_outbound()


@shared_task(name="whatsapp.sandbox_status", ignore_result=True)
def sandbox_status(message_id: int, wamid: str, status: str) -> None:
    """The local sandbox's status webhook, fed through the same processing as the platform's."""
    from whatsapp import sandbox

    sandbox.emit_status(message_id=message_id, wamid=wamid, status=status)


@shared_task(name="whatsapp.sandbox_template_review", ignore_result=True)
def sandbox_template_review(template_id: str, name: str, language: str) -> None:
    """The local sandbox approves a submitted template, through the platform's status webhook."""
    from whatsapp import sandbox

    sandbox.review_template(template_id=template_id, name=name, language=language)


@shared_task(name="whatsapp.fetch_media", bind=True, max_retries=None, ignore_result=True)
def fetch_media(self, media_id: int) -> str:
    """Fetch a customer's media file and keep it; retried while it may pass (see media.fetch_media)."""
    outcome = media.fetch_media(media_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.result


@shared_task(name="whatsapp.requeue_media", ignore_result=True)
def requeue_media() -> int:
    return media.requeue_media()
