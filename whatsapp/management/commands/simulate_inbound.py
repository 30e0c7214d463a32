import os

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from conversations.identifiers import Identity, InvalidIdentifier
from whatsapp import sandbox, signature


def default_url() -> str:
    """The webhook of the app `./dev demo` runs: on 127.0.0.1, port PORT as it reads it (8000 unset)."""
    return f"http://127.0.0.1:{os.environ.get('PORT') or 8000}/webhooks/whatsapp/"


class Command(BaseCommand):
    help = (
        "Play the customer: post a correctly signed WhatsApp webhook delivery with a text message to the "
        "running app, exactly as the platform would."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "customer",
            help=(
                "Who writes: a phone number in digits (e.g. 16505551234), or a business-scoped user id "
                "(e.g. US.13491208655302741918) for a customer with a username and no shared phone number."
            ),
        )
        parser.add_argument("text", help="What the customer writes.")
        parser.add_argument("--name", default="", help="The customer's WhatsApp profile name.")
        parser.add_argument("--username", default="", help="The customer's WhatsApp username, e.g. @sheena.")
        parser.add_argument(
            "--user-id",
            default="",
            help="The customer's business-scoped user id as well as their phone number (both known).",
        )
        parser.add_argument(
            "--ad",
            action="store_true",
            help="The customer came from a click-to-WhatsApp ad (a free-entry-point referral, rule R6).",
        )
        parser.add_argument(
            "--url",
            default=default_url(),
            help="The app's webhook URL; by default the one `./dev demo` serves, on port PORT (8000).",
        )

    def handle(self, *args, customer, text, name, username, user_id, ad, url, **options):
        try:
            identity = Identity.of(wa_id=customer, user_id=user_id or None, username=username).require()
        except InvalidIdentifier as error:
            raise CommandError(str(error)) from None
        delivery = sandbox.inbound_delivery(
            wa_id=identity.wa_id,
            user_id=identity.user_id,
            username=identity.username,
            body=text,
            name=name,
            timestamp=timezone.now(),
            ad=ad,
        )
        body = sandbox.encode(delivery)
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature.sign(body, settings.WHATSAPP_APP_SECRET),
        }
        try:
            response = httpx.post(url, content=body, headers=headers, timeout=10)
        except httpx.HTTPError as error:
            raise CommandError(f"could not reach {url}: {error}. Is the app running (./dev demo)?") from None
        if response.status_code != 200:
            raise CommandError(f"the app answered {response.status_code}: {response.text[:500]}")
        wamid = delivery["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        self.stdout.write(
            self.style.SUCCESS(f"Delivered {wamid} from {identity.describe()}{' (via an ad)' if ad else ''}.")
        )
