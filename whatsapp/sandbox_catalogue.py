"""The sandbox's template catalogue: the templates the local stand-in for the platform lists to a sync
(`GET /{WABA_ID}/message_templates`), one of each category and status. `seed_demo` (config.demo) creates
the same templates, so a demo and a sync against the sandbox agree."""

import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class DemoTemplate:
    """A template of the demo catalogue: what `seed_demo` creates and what the sandbox's platform lists."""

    name: str
    category: str
    status: str
    parameter_format: str
    body: str
    examples: tuple[str, ...] | dict[str, str] = ()  # the body's example values, as the platform keeps them
    header: str = ""  # a TEXT header's text (at most one placeholder)
    header_example: str = ""  # the example value of a TEXT header's placeholder
    header_format: str = "TEXT"  # or IMAGE / VIDEO / DOCUMENT: the media is chosen when sending
    footer: str = ""
    buttons: tuple[dict, ...] = ()  # buttons that need no parameters when sending
    rejected_reason: str = ""

    def components(self) -> list[dict]:
        body: dict = {"type": "BODY", "text": self.body}
        if isinstance(self.examples, dict):
            body["example"] = {
                "body_text_named_params": [{"param_name": k, "example": v} for k, v in self.examples.items()]
            }
        elif self.examples:
            body["example"] = {"body_text": [list(self.examples)]}
        if self.header_format != "TEXT":
            components = [{"type": "HEADER", "format": self.header_format}]
        else:
            components = [{"type": "HEADER", "format": "TEXT", "text": self.header}] if self.header else []
        if self.header_example:
            name = self.header.split("{{")[1].split("}}")[0]
            components[0]["example"] = (
                {"header_text_named_params": [{"param_name": name, "example": self.header_example}]}
                if self.parameter_format == "NAMED"
                else {"header_text": [self.header_example]}
            )
        components.append(body)
        if self.footer:
            components.append({"type": "FOOTER", "text": self.footer})
        if self.buttons:
            components.append({"type": "BUTTONS", "buttons": [dict(b) for b in self.buttons]})
        return components


DEMO_TEMPLATES = [
    DemoTemplate(
        "order_update",
        "UTILITY",
        "APPROVED",
        "NAMED",
        "Hi {{first_name}}, your order {{order_number}} has shipped and should arrive within {{days}} days. "
        "Reply here with any questions.",
        examples={"first_name": "Pablo", "order_number": "860198", "days": "3"},
        header="Your order is on its way",
        buttons=({"type": "URL", "text": "Track your order", "url": "https://shop.example.com/orders"},),
    ),
    DemoTemplate(
        "appointment_reminder",
        "UTILITY",
        "APPROVED",
        "POSITIONAL",
        "Hello {{1}}, this is a reminder of your appointment on {{2}}. Reply YES to confirm.",
        examples=("Sheena", "Tuesday 10:30"),
        buttons=({"type": "QUICK_REPLY", "text": "YES"}, {"type": "QUICK_REPLY", "text": "Reschedule"}),
    ),
    DemoTemplate(
        "follow_up",
        "UTILITY",
        "APPROVED",
        "POSITIONAL",
        "Hi, we are following up on your recent request. Reply to this message to continue.",
    ),
    DemoTemplate(
        "summer_sale",
        "MARKETING",
        "APPROVED",
        "POSITIONAL",
        "Hi {{1}}! Our summer sale is on: {{2}} off everything until Sunday. Reply STOP to opt out.",
        examples=("Mei", "20%"),
        header="Summer sale",
        footer="You get this because you opted in.",
    ),
    DemoTemplate(
        "back_in_stock",
        "MARKETING",
        "APPROVED",
        "NAMED",
        "Good news {{first_name}}: {{product}} is back in stock. Reply BUY to reserve one.",
        examples={"first_name": "Omar", "product": "the trail backpack"},
    ),
    DemoTemplate(
        "ticket_update",
        "UTILITY",
        "APPROVED",
        "NAMED",
        "Hi {{first_name}}, there is news on your support request. Tap below to read it and reply.",
        examples={"first_name": "Sheena"},
        header="Ticket {{ticket_id}}",
        header_example="T-4821",
        buttons=(
            {
                "type": "URL",
                "text": "Open the ticket",
                "url": "https://support.example.com/t/{{1}}",
                "example": ["https://support.example.com/t/4821"],
            },
        ),
    ),
    DemoTemplate(
        "new_arrivals",
        "MARKETING",
        "APPROVED",
        "POSITIONAL",
        "Hi {{1}}, the new season has arrived: have a look at this week's picks. Reply STOP to opt out.",
        examples=("Mei",),
        header_format="IMAGE",
    ),
    DemoTemplate(
        "login_code",
        "AUTHENTICATION",
        "APPROVED",
        "POSITIONAL",
        "Your verification code is {{1}}. For your security, do not share this code.",
        examples=("482913",),
    ),
    DemoTemplate(
        "winter_promo",
        "MARKETING",
        "PAUSED",
        "POSITIONAL",
        "Hi {{1}}, winter deals are here. Reply STOP to opt out.",
        examples=("Lukas",),
    ),
    DemoTemplate(
        "free_gift",
        "MARKETING",
        "REJECTED",
        "POSITIONAL",
        "Hi {{1}}, claim your free gift now!",
        examples=("Grace",),
        rejected_reason="PROMOTIONAL",
    ),
    DemoTemplate(
        "new_feature",
        "UTILITY",
        "PENDING",
        "POSITIONAL",
        "Hi {{1}}, your account now supports {{2}}. Reply HELP for details.",
        examples=("Aisha", "shared inboxes"),
    ),
]


def platform_templates() -> list[dict]:
    """The demo catalogue as the platform lists it (GET /{WABA_ID}/message_templates items), with
    stable ids: what the sandbox serves to a sync."""
    return [
        {
            "id": str(900_000_000_000 + zlib.crc32(f"{t.name}:en_US".encode())),
            "name": t.name,
            "language": "en_US",
            "status": t.status,
            "category": t.category,
            "parameter_format": t.parameter_format,
            "components": t.components(),
            **({"rejected_reason": t.rejected_reason} if t.rejected_reason else {}),
        }
        for t in DEMO_TEMPLATES
    ]
