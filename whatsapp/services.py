# ruff: noqa: S608 — only quoted table and column names of our models are interpolated; values are parameters
"""The channel: webhook deliveries in, messages out. Rules stay in conversations/: this module turns the
platform's payloads into calls of the domain services, and the domain's queued messages into API calls.

Inbound: `receive_delivery` is the webhook's one call: `ingest` stores a signed delivery byte for byte
before it is acknowledged, `parse` reads it once, and `process_delivery` applies every event of it
(idempotently: replays and the platform's retries change nothing twice); `retry_deliveries` picks up
whatever failed or was never processed.

Outbound: `deliver_message` claims a queued message with an atomic update (so it is posted at most
once, whatever the broker redelivers), posts it outside any transaction, and records the outcome.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, models, transaction
from django.db.models import F, Q
from django.utils import timezone

from conversations import prepared
from conversations import services as conversation_services
from conversations.exceptions import DomainError
from conversations.identifiers import Identity, InvalidIdentifier
from conversations.models import Message
from templates_app import services as template_services
from whatsapp import attachments, errors, payloads, selectors
from whatsapp.client import (
    GraphClient,
    PlatformError,
    media_payload,
    reaction_payload,
    template_payload,
    text_payload,
    with_reply_context,
)
from whatsapp.models import KeptItem, WebhookDelivery

logger = logging.getLogger(__name__)

DELIVERY_LEASE = timedelta(minutes=10)  # a processing delivery whose worker died is retried after this
LEASE_RENEW_AFTER = timedelta(seconds=30)  # a worker still applying a delivery's events renews its lease
DELIVERY_MAX_ATTEMPTS = 12
DELIVERY_RETRY_BATCH = 100
UNPROCESSED_GRACE = timedelta(seconds=60)  # a pending delivery this old was never processed
RETRY_BUDGET = timedelta(seconds=25)  # one run of the retry job (beat runs it every 30 s)
BACKLOG_ALERT_AFTER = timedelta(minutes=1)  # the oldest unprocessed delivery waiting longer: log an error
SEND_MAX_ATTEMPTS = 8
QUEUED_GRACE = timedelta(seconds=30)  # a queued message this old lost its task (e.g. broker down)
SENDING_UNCONFIRMED_AFTER = timedelta(minutes=10)


# --- Inbound ---------------------------------------------------------------------------------------


def ingest(body: bytes, *, signature: str = "", now: datetime | None = None) -> WebhookDelivery:
    """Store a delivery exactly as received (its signature already checked). Nothing else: storing
    must succeed whatever else is down."""
    return WebhookDelivery.objects.create(
        received_at=now or timezone.now(),
        body=body,
        signature=signature[:100],
        size=len(body),
        status=WebhookDelivery.Status.PENDING,
    )


def parse(body: bytes) -> list[payloads.Event]:
    """Decode and validate a delivery; raises payloads.MalformedDelivery with a plain-words reason."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise payloads.MalformedDelivery(f"the body is not valid JSON ({error})") from None
    except RecursionError:
        raise payloads.MalformedDelivery(
            "the body is not a WhatsApp delivery: JSON nested too deeply"
        ) from None
    return payloads.parse_delivery(data)


def reject(delivery: WebhookDelivery, reason: str) -> None:
    """A malformed delivery is kept (for a person to look at) and never processed."""
    delivery.status = WebhookDelivery.Status.REJECTED
    delivery.error = reason
    delivery.processed_at = timezone.now()
    delivery.save(update_fields=["status", "error", "processed_at"])


@dataclass(frozen=True)
class Receipt:
    """What the webhook answers for a stored delivery: 200, or 400 with `reason` for a malformed one
    (kept for a person to look at, never processed)."""

    delivery_id: int
    status: int = 200
    reason: str = ""


def receive_delivery(body: bytes, *, signature: str = "") -> Receipt:
    """A signed delivery from the platform, parsed once. A small one is applied and stored in one
    transaction, so it costs one commit: the delivery row is written with what processing made of it,
    and the answer waits for that commit (never acknowledged before it is durable). When that
    transaction fails, or the delivery is large, it is stored as received for the retry job or a task
    (which never waits for a broker that is down); a malformed one is kept, rejected, and answered 400."""
    now = timezone.now()
    try:
        events = parse(body)
    except payloads.MalformedDelivery as error:
        delivery = ingest(body, signature=signature, now=now)
        reject(delivery, str(error))
        return Receipt(delivery.pk, status=400, reason=str(error))
    if len(body) > settings.WHATSAPP_WEBHOOK_INLINE_MAX_BYTES:
        delivery = ingest(body, signature=signature, now=now)
        _queue_processing(delivery.pk)
        return Receipt(delivery.pk)
    if (delivery_id := _apply_usual_status(body, signature, events, now)) is not None:
        return Receipt(delivery_id)
    try:
        # The usual delivery, whose every event applies: all or nothing, no savepoint per event.
        return Receipt(_apply_inline(body, signature, events, now, isolated=False))
    except Exception as error:  # nothing of it was kept: again, an event at a time, so none loses another
        logger.info("webhook delivery applied again an event at a time: %s", error)
    try:
        return Receipt(_apply_inline(body, signature, events, now, isolated=True))
    except Exception:  # stored as received instead: the retry job applies it; the platform gets its 200
        logger.exception("webhook delivery could not be processed as it arrived; stored for a retry")
        return Receipt(ingest(body, signature=signature, now=now).pk)


def _apply_usual_status(body: bytes, signature: str, events, now: datetime) -> int | None:
    """A delivery of one usual status (sent, delivered or read of our message: most of a campaign's
    traffic) applied and stored in one statement, its own transaction: the message's write
    (conversations.services.usual_status_write) and the delivery's INSERT. Returns the delivery's id;
    None when it is not such a delivery, or the write matched no row (not our message, a customer named
    anew), or the statement failed: nothing of it was kept, and the caller applies it the usual way."""
    if len(events) != 1 or not isinstance(event := events[0], payloads.StatusUpdate):
        return None
    if event.errors or event.conversation_id:
        return None
    write = conversation_services.usual_status_write(
        wamid=event.wamid,
        status=event.status,
        timestamp=event.timestamp,
        pricing=event.pricing,
        recipient=_recipient(event),
        now=now,
    )
    if write is None:
        return None
    applied = _Applied()
    applied.counts["statuses"] += 1
    delivery = _applied_delivery(body, signature, applied, now)
    connection = connections[WebhookDelivery.objects.db]
    outer = connection.in_atomic_block  # a caller's transaction (a test's): a savepoint keeps it usable
    try:
        with transaction.atomic() if outer else contextlib.nullcontext():
            return _insert_delivery(delivery, after=write)
    except DatabaseError as error:
        logger.warning("webhook delivery applied the usual way: %s", error)
        if not outer:
            connection.close_if_unusable_or_obsolete()  # a connection that died: the next attempt reconnects
        return None


def _apply_inline(body: bytes, signature: str, events, now: datetime, *, isolated: bool) -> int:
    """Apply a delivery's events and store it with the outcome in one transaction; returns its id.
    `isolated`: each event in a savepoint, its failure recorded and the others applied (the delivery is
    stored failed, for a retry); else the first failure raises and the whole transaction is undone."""
    with transaction.atomic():
        applied = _apply_events(events, now, label="a new delivery", isolated=isolated, strict=not isolated)
        delivery = _applied_delivery(body, signature, applied, now)
        delivery.pk = _insert_delivery(delivery)
        _keep(delivery, applied.kept)
    return delivery.pk


def _applied_delivery(body: bytes, signature: str, applied: _Applied, now: datetime) -> WebhookDelivery:
    """The row (not saved yet) of a new delivery applied as it arrived (its first attempt), settled."""
    delivery = WebhookDelivery(
        received_at=now, body=body, signature=signature[:100], size=len(body), attempts=1
    )
    _settle(delivery, applied, now)
    return delivery


_DELIVERY_FIELDS = [field for field in WebhookDelivery._meta.concrete_fields if not field.primary_key]
# Each column with whether its value goes to psycopg as it is: text, numbers, bytes and aware datetimes
# do (their fields' get_db_prep_save hands them on unchanged); the JSON summary is adapted by its field.
# tests/whatsapp/test_webhook_cost.py reads a stored delivery back through the ORM, field by field.
_DELIVERY_COLUMNS = [(field, not isinstance(field, models.JSONField)) for field in _DELIVERY_FIELDS]


def _insert_delivery(
    delivery: WebhookDelivery, *, after: conversation_services.StatusWrite | None = None
) -> int | None:
    """delivery.save(force_insert=True) as one plain INSERT … RETURNING id (the ORM's compile cost more
    than the statement on the webhook's hot path). `after`: a write to make first, in the same statement
    (PostgreSQL); the delivery is stored only when it wrote a row (else None, nothing done)."""
    connection = connections[WebhookDelivery.objects.db]
    if after is None and not connection.features.can_return_columns_from_insert:
        delivery.save(force_insert=True)
        return delivery.pk
    values = [
        getattr(delivery, field.attname)
        if plain
        else field.get_db_prep_save(getattr(delivery, field.attname), connection)
        for field, plain in _DELIVERY_COLUMNS
    ]
    with prepared.cursor(connection) as cursor:
        if after is None:
            cursor.execute(_insert_sql(connection.alias), values)
        else:
            params = after.params | {f"delivery_{number}": value for number, value in enumerate(values)}
            cursor.execute(_insert_after_sql(connection.alias, after.sql), params)
        row = cursor.fetchone()
    return None if row is None else row[0]


@functools.cache
def _insert_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    columns = ", ".join(quote(field.column) for field in _DELIVERY_FIELDS)
    marks = ", ".join(["%s"] * len(_DELIVERY_FIELDS))
    return (
        f"INSERT INTO {quote(WebhookDelivery._meta.db_table)} ({columns}) VALUES ({marks})"
        f" RETURNING {quote(WebhookDelivery._meta.pk.column)}"
    )


@functools.cache
def _insert_after_sql(alias: str, write: str) -> str:
    """`write` (an UPDATE … RETURNING, named parameters), then the delivery's INSERT of one row per row it
    wrote (one: a wamid is unique), its values typed as their columns (a SELECT list gives no type)."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in _DELIVERY_FIELDS)
    values = ", ".join(
        f"%(delivery_{number})s::{field.cast_db_type(connection)}"
        for number, field in enumerate(_DELIVERY_FIELDS)
    )
    return (
        f"WITH written AS ({write}) INSERT INTO {quote(WebhookDelivery._meta.db_table)} ({columns})"
        f" SELECT {values} FROM written RETURNING {quote(WebhookDelivery._meta.pk.column)}"
    )


def _queue_processing(delivery_id: int) -> None:
    from whatsapp.tasks import process_delivery as process_delivery_task  # the tasks import this module

    try:
        process_delivery_task.delay(delivery_id)
    except Exception:  # the broker is down: the retry job finds the pending delivery
        logger.exception("webhook delivery %s stored, could not queue processing; will retry", delivery_id)


def _claim_delivery(delivery_id: int, now: datetime) -> bool:
    """Take a delivery for processing, once: an atomic update wins or does nothing. A delivery that used
    up its attempts is never taken again (the retry job parks it as dead)."""
    processable = Q(status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.FAILED]) | Q(
        status=WebhookDelivery.Status.PROCESSING, next_attempt_at__lte=now
    )
    attempts_left = Q(attempts__lt=DELIVERY_MAX_ATTEMPTS)
    return bool(
        WebhookDelivery.objects.filter(processable, attempts_left, pk=delivery_id).update(
            status=WebhookDelivery.Status.PROCESSING,
            attempts=F("attempts") + 1,
            next_attempt_at=now + DELIVERY_LEASE,
        )
    )


def process_delivery(delivery_id: int) -> WebhookDelivery:
    """Apply every event of a stored delivery (a task's, or the retry job's). Each event is its own
    transaction, so one bad event cannot undo the others. An item that cannot be understood, or that the
    inbox keeps apart, is kept with the delivery (KeptItem) and the rest applied; the delivery is retried
    later only when applying an event failed for a reason that may pass (replays are harmless)."""
    now = timezone.now()
    if not _claim_delivery(delivery_id, now):
        return WebhookDelivery.objects.get(pk=delivery_id)
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    try:
        events = parse(bytes(delivery.body))
    except payloads.MalformedDelivery as error:
        reject(delivery, str(error))
        return delivery
    lease = _Lease(delivery)
    # Each event is its own transaction; called inside a caller's transaction, each gets a savepoint.
    isolated = transaction.get_connection().in_atomic_block
    applied = _apply_events(events, now, label=f"delivery {delivery.pk}", lease=lease, isolated=isolated)
    if lease.lost:  # another worker holds it now (this one stalled past the lease): it finishes the job
        done = sum(applied.counts.values())
        logger.error("delivery %s: lease lost after %s events; another worker holds it", delivery.pk, done)
        return delivery
    _settle(delivery, applied, now)
    delivery.save(update_fields=["summary", "error", "status", "next_attempt_at", "processed_at"])
    _keep(delivery, applied.kept)
    return delivery


class _Lease:
    """A claimed delivery's lease, renewed while its events are applied, so that a long delivery (25,000
    messages) is never taken by a second worker meanwhile. The claim's attempt number is the token: a
    renewal that finds another attempt in place means the lease was lost, and this worker stops."""

    def __init__(self, delivery: WebhookDelivery):
        self.delivery = delivery
        self.renewed = time.monotonic()
        self.lost = False

    def keep(self) -> bool:
        if time.monotonic() - self.renewed >= LEASE_RENEW_AFTER.total_seconds():
            held = WebhookDelivery.objects.filter(
                pk=self.delivery.pk, status=WebhookDelivery.Status.PROCESSING, attempts=self.delivery.attempts
            )
            self.lost = not held.update(next_attempt_at=timezone.now() + DELIVERY_LEASE)
            self.renewed = time.monotonic()
        return not self.lost


@dataclass
class _Applied:
    """What applying a delivery's events did: counts for its summary, the failures that may pass (it is
    retried for them), and the items kept apart (saved with the delivery)."""

    counts: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    kept: list[KeptItem] = field(default_factory=list)


def _apply_events(
    events, now: datetime, *, label: str, lease: _Lease | None = None, isolated=False, strict=False
) -> _Applied:
    """Apply each event, counting what it did. `isolated`: each in a savepoint (inside a caller's
    transaction, a failed event is undone alone). `strict`: the first failure raises instead of being
    recorded (the caller undoes everything and tries again)."""
    applied = _Applied()
    for index, event in enumerate(events):
        if lease is not None and not lease.keep():
            break
        try:
            if isolated:
                with transaction.atomic():
                    outcome = _apply(event)
            else:
                outcome = _apply(event)
        except Exception as error:
            if strict:
                raise
            _record_failure(applied, event, error, index, label, now)
            continue
        if outcome.kept is not None:
            applied.kept.append(_kept_item(event, outcome.kept, outcome.reason, index, now))
        applied.counts[outcome.counted] += 1
    return applied


def _record_failure(applied: _Applied, event, error: Exception, index: int, label: str, now) -> None:
    """An event that raised `error` (called in its except block): kept when it can never be applied,
    else recorded as a problem (logged, and the delivery retried): one event's failure must not lose the
    others."""
    if isinstance(error, (ValueError, DomainError)):
        logger.warning("%s: event %s (%s) not applied: %s", label, index, type(event).__name__, error)
        applied.kept.append(_kept_item(event, KeptItem.Kind.NOT_UNDERSTOOD, str(error), index, now))
        applied.counts["kept"] += 1
    else:
        logger.exception("%s: event %s (%s) failed", label, index, type(event).__name__)
        applied.problems.append(f"event {index} ({type(event).__name__}): {error}")


def _settle(delivery: WebhookDelivery, applied: _Applied, now: datetime) -> None:
    """The delivery's status after `applied`: processed, or failed (retried with backoff), or dead."""
    delivery.summary = dict(applied.counts)
    if applied.problems:
        delivery.error = "\n".join(applied.problems[:20])
        if delivery.attempts >= DELIVERY_MAX_ATTEMPTS:
            delivery.status = WebhookDelivery.Status.DEAD
            delivery.next_attempt_at = None
            logger.error("delivery %s failed %s times; parked for a person", delivery.pk, delivery.attempts)
        else:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = now + timedelta(seconds=backoff(delivery.attempts, **DELIVERY_RETRY))
    else:
        delivery.status = WebhookDelivery.Status.PROCESSED
        delivery.error = ""
        delivery.next_attempt_at = None
    delivery.processed_at = timezone.now()


def _keep(delivery: WebhookDelivery, kept: list[KeptItem]) -> None:
    if kept:
        for item in kept:
            item.delivery = delivery
        KeptItem.objects.bulk_create(kept, ignore_conflicts=True)
        logger.warning("delivery %s: %d item(s) kept for review", delivery.pk, len(kept))


@dataclass(frozen=True)
class _Outcome:
    """What applying one event did: counted under `counted` in the delivery's summary; `kept` (a
    KeptItem kind) with `reason` when the item is kept with the delivery instead of, or beside, being
    applied."""

    counted: str
    kept: str | None = None
    reason: str = ""


def _kept_item(event, kind: str, reason: str, index: int, now) -> KeptItem:
    where = getattr(event, "where", "") or f"event {index}"
    field = getattr(event, "field", "") or _EVENT_FIELDS.get(type(event), "")
    return KeptItem(
        where=where[:200],
        kind=kind,
        field=field[:64],
        reason=reason,
        data=payloads.clean(getattr(event, "raw", None)),
        recorded_at=now,
    )


_EVENT_FIELDS = {
    payloads.InboundMessage: payloads.MESSAGES_FIELD,
    payloads.IdentityChange: payloads.MESSAGES_FIELD,  # or user_id_update: the event says
    payloads.StatusUpdate: payloads.MESSAGES_FIELD,
    payloads.MarketingPreference: payloads.USER_PREFERENCES_FIELD,
    payloads.TemplateStatusChange: payloads.TEMPLATE_STATUS_FIELD,
    payloads.TemplateCategoryChange: payloads.TEMPLATE_CATEGORY_FIELD,
    payloads.TemplateQualityChange: payloads.TEMPLATE_QUALITY_FIELD,
}


def _apply(event: payloads.Event) -> _Outcome:
    """One event to the domain. Raises ValueError (or a DomainError) for an item that can never be
    applied; any other exception is a failure that may pass (the delivery is retried)."""
    if isinstance(event, payloads.InboundMessage):
        conversation_services.receive_message(
            wa_id=event.wa_id or None,
            user_id=event.user_id or None,
            username=event.username,
            parent_user_id=event.parent_user_id,
            body=event.body,
            wamid=event.wamid,
            timestamp=event.timestamp,
            name=event.name,
            referral=event.referral,
            wa_type=event.type,
            context_wamid=event.context_wamid or "",
            details=event.details,
        )
        return _Outcome("messages")
    if isinstance(event, payloads.IdentityChange):
        conversation_services.record_identity_change(
            previous=Identity.of(wa_id=event.previous_wa_id, user_id=event.previous_user_id),
            current=Identity.of(
                wa_id=event.new_wa_id, user_id=event.new_user_id, parent_user_id=event.new_parent_user_id
            ),
            wamid=event.wamid or None,
            timestamp=event.timestamp,
            change=event.change,
            body=event.body,
        )
        return _Outcome("identity_changes")
    if isinstance(event, payloads.StatusUpdate):
        return _apply_status(event)
    if isinstance(event, payloads.MarketingPreference):
        conversation_services.record_marketing_preference(
            identity=Identity.of(wa_id=event.wa_id, user_id=event.user_id),
            stopped=event.stopped,
            timestamp=event.timestamp,
            name=event.name,
        )
        return _Outcome("marketing_preferences")
    if isinstance(event, payloads.TemplateStatusChange):
        template = template_services.apply_platform_status(
            platform_id=event.template_id,
            name=event.name,
            language=event.language,
            event=event.event,
            reason=event.reason,
        )
        return _template_outcome("template_status_updates", template, event)
    if isinstance(event, payloads.TemplateCategoryChange):
        template = template_services.apply_platform_category(
            platform_id=event.template_id,
            name=event.name,
            language=event.language,
            new_category=event.new_category,
        )
        return _template_outcome("template_category_updates", template, event)
    if isinstance(event, payloads.TemplateQualityChange):
        template = template_services.apply_platform_quality(
            platform_id=event.template_id,
            name=event.name,
            language=event.language,
            previous_score=event.previous_score,
            new_score=event.new_score,
        )
        return _template_outcome("template_quality_updates", template, event)
    if isinstance(event, payloads.Kept):
        return _Outcome("kept", event.kind, event.reason)
    logger.info("webhook field %r kept apart: %s", event.field, event.reason)
    return _Outcome("ignored", KeptItem.Kind.KEPT_APART, event.reason)


def _template_outcome(counted: str, template, event) -> _Outcome:
    if template is not None:
        return _Outcome(counted)
    return _Outcome(
        counted,
        KeptItem.Kind.UNKNOWN_TEMPLATE,
        f"about the template {event.name or '?'} ({event.language or '?'}, id {event.template_id or '?'}), "
        "which this inbox does not hold: sync the templates with WhatsApp to bring it in",
    )


def _apply_status(event: payloads.StatusUpdate) -> _Outcome:
    error = event.errors[0] if event.errors else None
    message = conversation_services.record_status(
        wamid=event.wamid,
        status=event.status,
        timestamp=event.timestamp,
        callback=event.callback_data,
        conversation_id=event.conversation_id,
        conversation_expires_at=event.conversation_expires_at,
        conversation_category=event.conversation_category,
        pricing=event.pricing,
        error_code=error.code if error else None,
        error_text=_final_failure_text(error) if error else "",
        closes_window=bool(error and errors.describe(error.code).closes_window),
        recipient=_recipient(event),
    )
    if message is None:
        logger.warning("status %r for unknown message %s: kept", event.status, event.wamid)
        return _Outcome(
            "statuses_unknown_message",
            KeptItem.Kind.UNKNOWN_MESSAGE,
            f"a {event.status!r} status for {event.wamid}, a message this inbox did not send (or not yet)",
        )
    return _Outcome("statuses")


def _recipient(event: payloads.StatusUpdate) -> Identity | None:
    try:
        return Identity.of(
            wa_id=event.recipient_id,
            user_id=event.recipient_user_id,
            parent_user_id=event.recipient_parent_user_id,
            username=event.recipient_username,
        )
    except InvalidIdentifier:
        logger.warning("status for %s: recipient identifiers in an unknown form, not linked", event.wamid)
        return None


def _final_failure_text(error: payloads.PlatformErrorDetail) -> str:
    """The platform finally refused the message: what happened and what a person can do, in plain
    words, with the platform's own details; never a promise of a retry (nothing retries it now)."""
    return errors.failure_text(error.code, title=error.title, message=error.message, details=error.details)


def retry_deliveries(
    *, now: datetime | None = None, limit: int = DELIVERY_RETRY_BATCH, budget: timedelta = RETRY_BUDGET
) -> int:
    """Process deliveries that failed, were never processed, or whose worker died mid-way, oldest first,
    batch after batch until none is due or `budget` is spent (a backlog is caught up, not nibbled at a
    hundred per tick). Says loudly when the oldest has waited too long; parks a delivery whose processing
    never finished in DELIVERY_MAX_ATTEMPTS tries (it killed the worker each time) so it blocks nothing."""
    now = now or timezone.now()
    _park_crashed(now)
    _report_backlog(selectors.delivery_backlog(now))
    retried = [WebhookDelivery.Status.FAILED, WebhookDelivery.Status.PROCESSING]
    due = Q(status=WebhookDelivery.Status.PENDING, received_at__lte=now - UNPROCESSED_GRACE) | Q(
        status__in=retried, next_attempt_at__lte=now
    )
    deadline = time.monotonic() + budget.total_seconds()
    processed, after = 0, Q()
    while True:
        batch = list(
            WebhookDelivery.objects.filter(due, after, status__in=selectors.UNFINISHED)
            .order_by("received_at", "pk")
            .values_list("pk", "received_at")[:limit]
        )
        for delivery_id, _ in batch:
            process_delivery(delivery_id)
        processed += len(batch)
        if len(batch) < limit or time.monotonic() >= deadline:
            return processed
        last_id, last_received_at = batch[-1]
        after = Q(received_at__gt=last_received_at) | Q(received_at=last_received_at, pk__gt=last_id)


def _park_crashed(now: datetime) -> None:
    """A delivery still 'processing' after its last lease, with no attempt left, crashed its worker every
    time: dead, with the reason, for a person (the admin can process it again)."""
    parked = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PROCESSING,
        next_attempt_at__lte=now,
        attempts__gte=DELIVERY_MAX_ATTEMPTS,
    ).update(
        status=WebhookDelivery.Status.DEAD,
        next_attempt_at=None,
        error=f"processing never finished in {DELIVERY_MAX_ATTEMPTS} attempts (the worker stopped each time)",
    )
    if parked:
        logger.error("%s webhook deliveries never finished processing; parked as dead for a person", parked)


def _report_backlog(backlog: selectors.Backlog) -> None:
    age = backlog.oldest_age
    if age is not None and age > BACKLOG_ALERT_AFTER:
        logger.error(
            "webhook backlog: %s deliveries waiting and %s failed, the oldest for %d s (over %d s); "
            "%.0f arrived per minute lately, %s dead",
            backlog.waiting,
            backlog.failed,
            age.total_seconds(),
            BACKLOG_ALERT_AFTER.total_seconds(),
            backlog.arrivals_per_minute,
            backlog.dead,
        )


def backoff(attempt: int, *, first: int, cap: int) -> int:
    """Seconds to wait after `attempt` tries before the next: `first`, doubling, at most `cap`. The one
    formula for every retry of the channel (deliveries to process, requests to the platform)."""
    return min(cap, first * 2 ** (max(1, attempt) - 1))


# A stored delivery that failed to process: 30 s, doubling, at most an hour.
DELIVERY_RETRY = {"first": 30, "cap": 3600}
# A request to the platform that may pass later (throttled, unavailable): 5 s, doubling, at most 15 min.
REQUEST_RETRY = {"first": 5, "cap": 900}


# --- Outbound --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryOutcome:
    """What deliver_message did: `retry_in` seconds when the platform asked us to try again later."""

    result: str
    retry_in: float | None = None


def client():
    """The platform, or its local stand-in when no credentials are configured (the embedded default)."""
    if settings.WHATSAPP_SANDBOX:
        from whatsapp.sandbox import SandboxClient

        return SandboxClient()
    return GraphClient(
        base_url=settings.WHATSAPP_API_BASE,
        version=settings.WHATSAPP_API_VERSION,
        phone_number_id=settings.WHATSAPP_PHONE_NUMBER_ID,
        access_token=settings.WHATSAPP_ACCESS_TOKEN,
        timeout=settings.WHATSAPP_HTTP_TIMEOUT,
    )


def business_account_id() -> str:
    """The WhatsApp Business Account whose templates we list; the sandbox has its own."""
    if settings.WHATSAPP_BUSINESS_ACCOUNT_ID:
        return settings.WHATSAPP_BUSINESS_ACCOUNT_ID
    if settings.WHATSAPP_SANDBOX:
        from whatsapp.sandbox import SANDBOX_WABA_ID

        return SANDBOX_WABA_ID
    raise ImproperlyConfigured(
        "WHATSAPP_BUSINESS_ACCOUNT_ID is not set: templates are listed per WhatsApp Business Account."
    )


def sync_template_catalogue(*, progress=None) -> template_services.SyncReport:
    """Sync the local templates with the platform (or the sandbox's demo catalogue). Raises PlatformError
    when the platform cannot be read; nothing changes then."""
    waba_id = business_account_id()
    with client() as platform:
        return template_services.sync_templates(client=platform, waba_id=waba_id, progress=progress)


def submit_templates(templates, *, actor=None) -> list[tuple[object, Exception | None]]:
    """Submit each template to WhatsApp for review (or to the sandbox): (template, None) when it went,
    (template, the reason) when not: a PlatformError, or template_services.NotSubmittable."""
    waba_id = business_account_id()
    results = []
    with client() as platform:
        for template in templates:
            try:
                submitted = template_services.submit_template(
                    template=template, client=platform, waba_id=waba_id, actor=actor
                )
            except (PlatformError, template_services.NotSubmittable) as error:
                results.append((template, error))
            else:
                results.append((submitted, None))
    return results


def outbound_payload(message: Message) -> dict:
    # Everything we know the customer by: the payload builders send `to` when there is a phone number,
    # else `recipient` (never a BSUID in `to`: the platform silently drops that).
    customer = message.customer
    address = {"to": f"+{customer.wa_id}" if customer.wa_id else None, "recipient": customer.user_id}
    callback = conversation_services.callback_data(message)
    if message.kind == Message.Kind.TEMPLATE:
        template = message.template
        return template_payload(
            **address,
            name=template.name,
            language=template.language,
            parameter_format=template.parameter_format,
            params=message.template_params,
            callback_data=callback,
            extras=message.template_extras,
        )
    if message.wa_type == "reaction":
        emoji = (message.details or {}).get("reaction", "")
        target = message.context_wamid
        return reaction_payload(**address, message_id=target, emoji=emoji, callback_data=callback)
    if attachments.file_of(message) is not None:
        media = message.media
        payload = media_payload(
            **address,
            kind=message.wa_type,
            media_id=attachments.media_id_for(message),
            caption=((message.details or {}).get("media") or {}).get("caption") or "",
            filename=media.filename,
            callback_data=callback,
        )
        return with_reply_context(payload, message.context_wamid)
    payload = text_payload(**address, body=message.body, callback_data=callback)
    return with_reply_context(payload, message.context_wamid)


def _claim_message(message_id: int, now: datetime) -> bool:
    """queued → sending, once. A second task for the same message (a broker redelivery, the outbox job)
    finds nothing to claim: the platform has no idempotency key, so we never post twice."""
    return bool(
        Message.objects.filter(
            pk=message_id, status=Message.Status.QUEUED, direction=Message.Direction.OUTBOUND
        ).update(
            status=Message.Status.SENDING,
            status_changed_at=now,
            send_started_at=now,
            send_attempts=F("send_attempts") + 1,
            next_attempt_at=None,
        )
    )


def deliver_message(message_id: int) -> DeliveryOutcome:
    """Hand one queued message to the platform (outside any transaction: no network call holds a lock)."""
    now = timezone.now()
    if not _claim_message(message_id, now):
        return DeliveryOutcome("not queued")
    message = Message.objects.select_related("customer", "template", "media").get(pk=message_id)
    try:
        payload = outbound_payload(message)
    except ValueError as error:
        return _unpreparable(message, error)
    try:
        with client() as platform:
            # An agent's file is uploaded first, once: a retry finds the id it got (whatsapp.attachments).
            payload = attachments.upload(message, payload, platform)
            result = platform.send(payload)
    except PlatformError as error:
        return _handle_send_error(message, error)
    except attachments.FileUnavailable as error:
        return _unpreparable(message, error)
    conversation_services.record_accepted(message=message, wamid=result.wamid)
    logger.info("message %s accepted by the platform as %s", message.pk, result.wamid)
    return DeliveryOutcome("sent")


def _unpreparable(message: Message, error: ValueError) -> DeliveryOutcome:
    # Nothing was sent; it cannot be put in the platform's shape (or its file is gone), so it never will be.
    conversation_services.mark_message_failed(
        message=message, error_text=f"The message could not be prepared for WhatsApp: {error}"
    )
    logger.error("message %s could not be prepared: %s", message.pk, error)
    return DeliveryOutcome("failed")


def send_retry_delay(attempt: int) -> int:
    """Seconds before trying a request to the platform again after `attempt` tries (REQUEST_RETRY)."""
    return backoff(attempt, **REQUEST_RETRY)


def _handle_send_error(message: Message, error: PlatformError) -> DeliveryOutcome:
    now = timezone.now()
    if error.retryable and message.send_attempts < SEND_MAX_ATTEMPTS:
        delay = send_retry_delay(message.send_attempts)
        Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
            status=Message.Status.QUEUED,
            status_changed_at=now,
            next_attempt_at=now + timedelta(seconds=delay),
            error_code=error.code,
            error_text=f"Retrying: {error.info.reason}",
        )
        logger.warning("message %s: %s; retry in %s s", message.pk, error, delay)
        return DeliveryOutcome("retry", retry_in=delay)
    if error.ambiguous:
        # The platform may have accepted it. Posting again could send it twice, so it stays "sending"
        # until a status webhook tells us (biz_opaque_callback_data finds it even without a wamid).
        Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
            error_text=(
                "WhatsApp did not answer, so it is not known whether this message was sent. It will not "
                "be sent again automatically; check the chat before resending."
            )
        )
        logger.error("message %s: outcome unknown (%s); not retried", message.pk, error)
        return DeliveryOutcome("unknown")
    conversation_services.mark_message_failed(
        message=message,
        error_code=error.code,
        error_text=error.final_text(retried=message.send_attempts > 1),
        closes_window=error.info.closes_window,
    )
    logger.warning("message %s failed: %s", message.pk, error)
    return DeliveryOutcome("failed")


def requeue_outbound(*, now: datetime | None = None, limit: int = 500) -> int:
    """Dispatch queued messages whose task was lost (the broker was down at commit time, a retry task
    vanished). Safe to overlap with live tasks: the claim lets only one of them post."""
    from whatsapp.tasks import send_message

    now = now or timezone.now()
    due = list(
        Message.objects.filter(status=Message.Status.QUEUED, direction=Message.Direction.OUTBOUND)
        .filter(
            Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, created_at__lte=now - QUEUED_GRACE)
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for message_id in due:
        send_message.delay(message_id)
    unconfirmed = Message.objects.filter(
        status=Message.Status.SENDING, send_started_at__lte=now - SENDING_UNCONFIRMED_AFTER
    ).count()
    if unconfirmed:
        logger.warning("%d message(s) handed to WhatsApp without a confirmation yet", unconfirmed)
    return len(due)
