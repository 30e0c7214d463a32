import mimetypes
import os
from pathlib import Path

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from conversations.identifiers import Identity, InvalidIdentifier
from whatsapp import sandbox, sandbox_media, signature

# The option that sends a file, the message type it makes, and the message types a file may be sent as.
MEDIA_OPTIONS = (("image", "image"), ("document", "document"), ("voice", "audio"))


def default_url() -> str:
    """The webhook of the app `./dev demo` runs: on 127.0.0.1, port PORT as it reads it (8000 unset)."""
    return f"http://127.0.0.1:{os.environ.get('PORT') or 8000}/webhooks/whatsapp/"


class Command(BaseCommand):
    help = (
        "Play the customer: post a correctly signed WhatsApp webhook delivery with a text message (or a "
        "photo, a document, a voice note from a file, which the sandbox then serves by its media id) to the "
        "running app, exactly as the platform would."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # The caption may come after the file (`simulate_inbound 4477… --image x.png "Look"`), as people
        # type it: positionals are read wherever they are among the options.
        parser.parse_args = parser.parse_intermixed_args
        return parser

    def add_arguments(self, parser):
        parser.add_argument(
            "customer",
            help=(
                "Who writes: a phone number in digits (e.g. 16505551234), or a business-scoped user id "
                "(e.g. US.13491208655302741918) for a customer with a username and no shared phone number."
            ),
        )
        parser.add_argument(
            "text",
            nargs="?",
            default="",
            help="What the customer writes (with a photo or document: its caption).",
        )
        files = parser.add_mutually_exclusive_group()
        files.add_argument("--image", metavar="PATH", help="Send this photo (JPEG, PNG or WebP).")
        files.add_argument("--document", metavar="PATH", help="Send this file as a document (PDF, …).")
        files.add_argument("--voice", metavar="PATH", help="Send this recording as a voice note (Ogg, …).")
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
        who = {"wa_id": identity.wa_id, "user_id": identity.user_id, "username": identity.username}
        sent = [(option, kind) for option, kind in MEDIA_OPTIONS if options.get(option)]
        if sent:
            [(option, kind)] = sent
            delivery = _media_delivery(Path(options[option]), kind, option, caption=text, name=name, who=who)
        elif text:
            delivery = sandbox.inbound_delivery(**who, body=text, name=name, timestamp=timezone.now(), ad=ad)
        else:
            raise CommandError("Say what the customer writes, or give a file (--image, --document, --voice).")
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


def _media_delivery(path: Path, kind: str, option: str, *, caption: str, name: str, who: dict) -> dict:
    """The file kept by the sandbox as the platform keeps a customer's upload, and the message naming it."""
    try:
        content = path.read_bytes()
    except OSError as error:
        raise CommandError(f"could not read {path}: {error.strerror}") from None
    # Sent as the phone announces it, by its name: what the bytes are is for the app's fetch to find out
    # (a page named photo.png is refused there, as it would be from the platform).
    mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    kept = sandbox_media.keep(content, mime_type)
    return sandbox.inbound_media_delivery(
        **who,
        name=name,
        timestamp=timezone.now(),
        kind=kind,
        kept=kept,
        caption=caption,
        filename=path.name,
        voice=option == "voice",
    )
