"""Demo data for local runs: users of each role, approved templates of each category, and customers in
every interesting state relative to *now*. Everything goes through the services, so the demo shows
exactly what the rules do. Re-running resets the demo customers, so their windows are fresh again."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import roles
from config.demo_history import seed_history
from conversations import services
from conversations.identifiers import Identity
from conversations.models import ContactAttribute, Customer, Label, Message, Team, TeamMembership
from inbox import notes
from inbox.models import CannedReply
from reports.demo import load_sample_rates
from reports.services import refresh_rollup
from templates_app.models import MessageTemplate
from whatsapp import media, sandbox, sandbox_media

# The template catalogue lives with the sandbox that lists it; the demo creates the same templates here.
from whatsapp.sandbox_catalogue import DEMO_TEMPLATES

# Local-only credentials, documented in the README. seed_demo refuses to run with DEBUG off.
DEMO_USERS = [
    # username, password, role, first name, is_staff (admin site access)
    ("agent", "agent-demo", roles.AGENTS, "Alex", False),
    ("agent2", "agent2-demo", roles.AGENTS, "Sam", False),
    ("supervisor", "supervisor-demo", roles.SUPERVISORS, "Morgan", False),
    ("admin", "admin-demo", roles.ADMINS, "Robin", True),
]

AD_REFERRAL = {
    "source_url": "https://fb.me/demo-summer-ad",
    "source_id": "120226305854810726",
    "source_type": "ad",
    "headline": "Chat with us",
    "body": "Summer sale: 20% off",
    "media_type": "image",
    "ctwa_clid": "demo-ctwa-clid",
}


@dataclass(frozen=True)
class DemoFile:
    """A file a demo customer sent (made in code: whatsapp.sandbox_media), fetched as the platform's."""

    ago: timedelta
    kind: str  # image, document, or audio (a voice note)
    caption: str = ""
    filename: str = ""

    def content(self) -> tuple[bytes, str]:
        if self.kind == "image":
            return sandbox_media.png(320, 240, (180, 83, 9)), "image/png"
        if self.kind == "audio":
            return sandbox_media.ogg(), "audio/ogg"
        return sandbox_media.pdf(f"Invoice {self.filename}"), "application/pdf"


@dataclass(frozen=True)
class DemoCustomer:
    wa_id: str | None
    name: str
    state: str  # what the demo shows with this customer
    inbound: tuple[tuple[timedelta, str], ...] = ()  # (how long ago, text)
    referral_on_last: bool = False
    reply: str = ""  # an agent reply sent now (opens or joins a conversation)
    template: tuple[str, object] | None = None  # (template name, params) sent now
    user_id: str | None = None  # a business-scoped user id (late 2026): with or instead of wa_id
    username: str = ""
    reaction: str = ""  # the customer reacts to the reply with this emoji (the reply is marked sent)
    stopped_marketing: timedelta | None = None  # the customer stopped marketing messages this long ago
    files: tuple[DemoFile, ...] = ()  # photos and documents the customer sent, after the texts

    @property
    def handle(self) -> str:
        return f"+{self.wa_id}" if self.wa_id else self.username or self.user_id or ""


DEMO_CUSTOMERS = [
    DemoCustomer(
        "16505551234",
        "Sheena Nelson",
        "window open, waiting for a reply",
        inbound=(
            (timedelta(minutes=25), "Hi! Can I get more info about the premium plan?"),
            (timedelta(minutes=20), "Mostly about the price for a team of 5."),
        ),
    ),
    DemoCustomer(
        "5511987654321",
        "Pablo Morales",
        "window open with hours left, service conversation open",
        inbound=(
            (timedelta(hours=5, minutes=10), "Olá, my order hasn't arrived yet."),
            (timedelta(hours=5), "Order 860198."),
        ),
        files=(DemoFile(timedelta(hours=4, minutes=58), "image", caption="The tracking page says 'held'"),),
        reply="Thanks Pablo, order 860198 left our warehouse yesterday; I'm checking with the courier.",
    ),
    DemoCustomer(
        "447400123456",
        "Aisha Khan",
        "window closing in minutes",
        inbound=((timedelta(hours=23, minutes=52), "Is the store open on Sunday?"),),
    ),
    DemoCustomer(
        "4915112345678",
        "Lukas Weber",
        "window closed (last wrote 2 days ago): templates only; stopped marketing messages",
        inbound=((timedelta(days=2, hours=1), "Danke, that solved it!"),),
        stopped_marketing=timedelta(days=1),
    ),
    DemoCustomer(
        None,
        "Noa Levi",
        "a username and no phone number: known by their WhatsApp user id; reacted to the reply",
        inbound=((timedelta(minutes=40), "Hi, does the jacket come in another colour?"),),
        user_id="IL.70260000000000000001",
        username="@noa.levi",
        reply="Hi Noa! It comes in red and navy too.",
        reaction="❤️",
    ),
    DemoCustomer(
        "6591234567",
        "Mei Chen",
        "came from an ad: free-entry-point conversation open for 72 h",
        inbound=((timedelta(hours=1), "I saw your summer sale ad, do you ship to Singapore?"),),
        referral_on_last=True,
        reply="Hi Mei! Yes, we ship to Singapore in 3–5 days.",
    ),
    DemoCustomer(
        "971501234567",
        "Omar Haddad",
        "came from an ad, not answered yet: the first reply opens a free entry point",
        inbound=((timedelta(minutes=8), "Hello, I clicked your ad. Is the offer still valid?"),),
        referral_on_last=True,
    ),
    DemoCustomer(
        "919812345678",
        "Ravi Patel",
        "sent a photo of the damage, the invoice as a PDF and a voice note",
        inbound=((timedelta(minutes=14), "Hello, the lamp I ordered arrived broken."),),
        files=(
            DemoFile(timedelta(minutes=13), "image", caption="The shade is cracked"),
            DemoFile(
                timedelta(minutes=12), "document", caption="My invoice", filename="invoice-2026-0917.pdf"
            ),
            DemoFile(timedelta(minutes=11), "audio"),
        ),
    ),
    DemoCustomer(
        "2348012345678",
        "Grace Okafor",
        "never wrote: a utility template opened a conversation",
        template=("order_update", {"first_name": "Grace", "order_number": "771204", "days": "3"}),
    ),
]


def _seed_statuses(agent, *, now) -> None:
    """Threads in each status (issue 15): Noa Levi pending (she was told the colours; her choice is
    awaited); Lukas Weber stays in "Lost" (he wrote, nobody answered, his window closed). With history:
    the history's customers we answered last are resolved, one of them snoozed until tomorrow 09:00
    (the business's time zone); who wrote last and was never answered stays in sight under "Lost"."""
    noa = Customer.objects.filter(user_id="IL.70260000000000000001").first()
    if noa is not None:
        services.mark_pending(customer=noa, agent=agent, now=now)
    demo_ids = {c.wa_id for c in DEMO_CUSTOMERS if c.wa_id} | {c.user_id for c in DEMO_CUSTOMERS if c.user_id}
    answered = [
        customer
        for customer in Customer.objects.filter(last_turn_direction="outbound").order_by("-last_activity_at")
        if customer.wa_id not in demo_ids and customer.user_id not in demo_ids
    ]
    for customer in answered[1:]:
        services.resolve(customer=customer, agent=agent, confirm=True, now=now)
    if answered:
        local = timezone.localtime(now)
        morning = local.replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=1)
        services.snooze(customer=answered[0], until=morning, agent=agent, now=now)


# Labels (name, colour) and teams (name, default, members) an admin would make (issue 15).
DEMO_LABELS = [("refund", "#b42318"), ("VIP", "#6941c6"), ("delivery", "#0b6e4f")]
DEMO_TEAMS = [("Support", True, ("agent", "agent2")), ("Billing", False, ("agent2",))]
# Who carries which labels, who belongs to which team, who holds whom (by the demo customers' names).
DEMO_LABELLED = {"Pablo Morales": ("VIP",), "Lukas Weber": ("refund", "delivery"), "Mei Chen": ("VIP",)}
DEMO_TEAM_OF = {"Lukas Weber": "Billing"}
DEMO_HELD_BY = {"Pablo Morales": "agent", "Lukas Weber": "agent2"}


def seed_demo(*, history_days: int = 0) -> dict[str, int]:
    """Create or refresh the demo, with `history_days` of history for the reports (config.demo_history).
    Returns counts for the command's summary."""
    with transaction.atomic():
        users = _seed_users()
        templates = _seed_templates()
        load_sample_rates()  # the cost report's example rate card, unless an admin has made one
        # The demo's customers are replayed with nobody taking threads in turn; the default team is set
        # again at the end, so customers who write during the demo are given out in turn.
        Team.objects.filter(name__in=[name for name, _, _ in DEMO_TEAMS]).update(is_default=False)
        Customer.objects.filter(
            Q(wa_id__in=[c.wa_id for c in DEMO_CUSTOMERS if c.wa_id])
            | Q(user_id__in=[c.user_id for c in DEMO_CUSTOMERS if c.user_id])
        ).delete()
    agent = users["agent"]
    now = timezone.now()
    history = {}
    if history_days:
        history = seed_history(
            now=now, days=history_days, users=users, templates=templates, referral=AD_REFERRAL
        )
    for demo in DEMO_CUSTOMERS:
        key = demo.wa_id or demo.user_id
        customer = None
        for index, (ago, text) in enumerate(demo.inbound, start=1):
            last = index == len(demo.inbound)
            customer = services.receive_message(
                wa_id=demo.wa_id,
                user_id=demo.user_id,
                username=demo.username,
                name=demo.name,
                body=text,
                wamid=f"wamid.demo.{key}.{int((now - ago).timestamp())}.{index}",
                timestamp=now - ago,
                referral=AD_REFERRAL if (last and demo.referral_on_last) else None,
            ).customer
        for file in demo.files:
            _customer_sent_file(demo, file, now=now)
        if customer is None:
            customer, _ = Customer.objects.get_or_create(wa_id=demo.wa_id, defaults={"name": demo.name})
        if demo.reply and not demo.reaction:
            services.send_text(customer=customer, body=demo.reply, agent=agent)
        elif demo.reply:
            # As if the platform had accepted it a moment ago and the customer reacted to it.
            wamid = f"wamid.demo.{key}.reply"
            services.record_sent_elsewhere(
                customer=customer, wamid=wamid, now=timezone.now(), body=demo.reply, agent=agent
            )
            services.receive_message(
                wa_id=demo.wa_id,
                user_id=demo.user_id,
                body=f"[Reaction] {demo.reaction}",
                wamid=f"wamid.demo.{key}.reaction",
                timestamp=timezone.now(),
                wa_type="reaction",
                context_wamid=wamid,
                details={"reaction": demo.reaction},
            )
        if demo.template:
            name, params = demo.template
            services.send_template(customer=customer, template=templates[name], params=params, agent=agent)
        if demo.stopped_marketing:
            services.record_marketing_preference(
                identity=Identity.of(wa_id=demo.wa_id, user_id=demo.user_id),
                stopped=True,
                timestamp=now - demo.stopped_marketing,
            )
    _seed_statuses(users["agent"], now=timezone.now())
    _seed_workflow(users, now=timezone.now())
    _seed_teams_and_labels(users, now=now)
    if history:
        # The reports' daily rollup, computed again over the new history.
        refresh_rollup(now=now, recompute=(date.min, date.max), wait=True)
    return {
        "users": len(users),
        "templates": len(templates),
        "customers": len(DEMO_CUSTOMERS),
        "history_customers": history.get("customers", 0),
        "history_messages": history.get("inbound", 0) + history.get("sent", 0) + history.get("failed", 0),
    }


def _customer_sent_file(demo: DemoCustomer, file: DemoFile, *, now) -> None:
    """As the platform delivers it: the file kept under a media id by the sandbox, the message through the
    webhook's processing; then fetched at once (a worker may not run yet), as the worker would fetch it."""
    content, mime_type = file.content()
    kept = sandbox_media.keep(content, mime_type)
    delivery = sandbox.inbound_media_delivery(
        wa_id=demo.wa_id,
        user_id=demo.user_id,
        name=demo.name,
        timestamp=now - file.ago,
        kind=file.kind,
        kept=kept,
        caption=file.caption,
        filename=file.filename,
        voice=file.kind == "audio",
    )
    sandbox.deliver_locally(delivery)
    if settings.WHATSAPP_SANDBOX:
        [message] = delivery["entry"][0]["changes"][0]["value"]["messages"]
        media.fetch_media(Message.objects.select_related("media").get(wamid=message["id"]).media.pk)


# Issue 15: contact fields admins defined, the values agents set, canned replies and a handover note.
DEMO_ATTRIBUTES = [
    # key, label, kind, optional
    ("order_number", "Order number", ContactAttribute.Kind.TEXT, True),
    ("plan", "Plan", ContactAttribute.Kind.TEXT, True),
    ("renewal", "Renewal date", ContactAttribute.Kind.DATE, True),
]
DEMO_VALUES = [("5511987654321", "order_number", "860198"), ("2348012345678", "order_number", "771204")]
DEMO_VALUES += [("4915112345678", "plan", "Pro"), ("4915112345678", "renewal", "2027-01-15")]
DEMO_CANNED = [
    # owner (None: the team's), title, text
    (None, "Order status", "Hi {{first_name}}, your order {{order_number}} is on its way. — {{agent}}"),
    (None, "Opening hours", "Hi {{first_name}}! We are open Monday to Saturday, 9:00–18:00."),
    ("agent", "Glad to help", "Thanks {{first_name}}, glad I could help! Anything else, just write here."),
    ("agent2", "Ask for the order", "Could you send me your order number, {{first_name}}?"),
]


def _seed_workflow(users, *, now) -> None:
    for position, (key, label, kind, optional) in enumerate(DEMO_ATTRIBUTES):
        ContactAttribute.objects.update_or_create(
            key=key, defaults={"label": label, "kind": kind, "optional": optional, "position": position}
        )
    for wa_id, key, value in DEMO_VALUES:
        customer = Customer.objects.get(wa_id=wa_id)
        services.set_attribute(customer=customer, key=key, value=value, by=users["agent"], now=now)
    for owner, title, text in DEMO_CANNED:
        CannedReply.objects.update_or_create(
            owner=users[owner] if owner else None,
            title=title,
            defaults={"body": text, "created_at": now, "updated_at": now},
        )
    pablo = Customer.objects.get(wa_id="5511987654321")
    notes.add_note(
        customer=pablo,
        author=users["agent2"],
        body="The courier confirmed delivery for Thursday. @agent can you tell Pablo when he writes back?",
        now=now,
    )


def _seed_teams_and_labels(users: dict, *, now) -> None:
    """The labels and teams an admin would make, a few threads labelled, held and in a team."""
    labels = {}
    for name, colour in DEMO_LABELS:
        labels[name], _ = Label.objects.update_or_create(name=name, defaults={"colour": colour})
    teams = {}
    for name, _is_default, members in DEMO_TEAMS:
        teams[name], _ = Team.objects.get_or_create(name=name)
        for username in members:
            TeamMembership.objects.get_or_create(team=teams[name], agent=users[username])
    by_name = {c.name: c for c in Customer.objects.filter(name__in=[d.name for d in DEMO_CUSTOMERS])}
    for name, names in DEMO_LABELLED.items():
        for label in names:
            services.add_label(customer=by_name[name], label=labels[label], by=users["agent"], now=now)
    for name, username in DEMO_HELD_BY.items():
        team = teams.get(DEMO_TEAM_OF.get(name, ""), teams["Support"])
        services.assign(
            customer=by_name[name],
            to=users[username],
            by=users["supervisor"],
            now=now,
            may_reassign=True,
            team=team,
        )
    for name, is_default, _ in DEMO_TEAMS:
        if is_default:
            Team.objects.filter(pk=teams[name].pk).update(is_default=True)


def _seed_users():
    User = get_user_model()
    users = {}
    for username, password, role, first_name, is_staff in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=username)
        user.first_name = first_name
        user.email = f"{username}@demo.invalid"
        user.is_staff = is_staff
        user.is_active = True
        user.set_password(password)
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        users[username] = user
    return users


def _seed_templates():
    templates = {}
    for demo in DEMO_TEMPLATES:
        template, _ = MessageTemplate.objects.update_or_create(
            name=demo.name,
            language="en_US",
            defaults={
                "category": demo.category,
                "status": demo.status,
                "parameter_format": demo.parameter_format,
                "components": demo.components(),
                "rejected_reason": demo.rejected_reason,
            },
        )
        template.full_clean()
        templates[demo.name] = template
    return templates
