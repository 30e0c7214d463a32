"""The product's roles as Django groups, and what each may do.

Agents answer customers and take threads; supervisors also read reports and reassign threads; admins
also manage templates, teams and labels in the admin.
The groups are created and kept in sync by `sync_roles` after every migrate (accounts.apps): a new
permission in this file reaches the groups at the next deploy's migrate. Apps are named by label only:
this module imports no other app of the project.
"""

AGENTS = "agents"
SUPERVISORS = "supervisors"
ADMINS = "admins"

_READ_CONVERSATIONS = [
    ("conversations", "view_customer"),
    ("conversations", "view_message"),
    ("conversations", "view_conversation"),
    ("templates_app", "view_messagetemplate"),
]
_INSPECT_CHANNEL = [
    ("conversations", "view_conversationdiscrepancy"),
    ("templates_app", "view_templateevent"),
    ("whatsapp", "view_webhookdelivery"),
    ("whatsapp", "change_webhookdelivery"),  # only unlocks "process again"; deliveries are never edited
    ("whatsapp", "view_keptitem"),  # what a delivery held that was not applied, and why
    ("conversations", "view_previousidentifier"),
    ("conversations", "view_messagemedia"),  # customers' files: still being fetched, refused, expired
]

# Answering customers: the inbox's compose area, taking a thread (and giving back one's own: a
# supervisor's reassign_customer gives anyone's to anyone), labels on threads, the available/away switch.
_ANSWER = [
    ("conversations", "send_message"),
    ("conversations", "assign_customer"),
    ("conversations", "change_thread_status"),  # resolve, snooze, mark pending, reopen
    ("conversations", "label_customer"),
    ("conversations", "set_availability"),
]
# Supervisors hand threads over: to any agent, any team; and put labels on threads.
_REASSIGN = [
    ("conversations", "assign_customer"),
    ("conversations", "reassign_customer"),
    ("conversations", "label_customer"),
    ("conversations", "view_assignment"),  # who held a thread when (the admin's history)
]
# Teams (their members, the default team that takes new threads in turn) and labels: the admin's.
_MANAGE_TEAMS_AND_LABELS = [
    ("conversations", f"{action}_{model}")
    for model in ("team", "teammembership", "label")
    for action in ("view", "add", "change", "delete")
] + [("conversations", "view_assignment"), ("conversations", "view_agentavailability")]

# Reports: agents see their own figures; supervisors and admins see the whole team's.
_OWN_REPORTS = [("reports", "view_reports")]
_TEAM_REPORTS = [*_OWN_REPORTS, ("reports", "view_team_reports")]
# The rate card and the dated rules of what is free under per-message pricing.
_MANAGE_RATES = [
    ("reports", f"{action}_{model}")
    for model in ("rate", "freemessagerule")
    for action in ("view", "add", "change", "delete")
]

# Sign-in throttling (accounts.throttling): see who is paused, and unlock by deleting the attempt.
_UNLOCK_SIGN_INS = [
    ("axes", "view_accessattempt"),
    ("axes", "delete_accessattempt"),
    ("axes", "view_accesslog"),
]

# Issue 15. Private notes in threads: agents and supervisors write them (authors delete their own).
_WRITE_NOTES = [("inbox", "add_note")]
# Canned replies: agents keep their own (personal); supervisors and admins read them all; admins keep
# the team's (in the app, at /replies/).
_OWN_CANNED_REPLIES = [("inbox", "add_cannedreply")]
_READ_CANNED_REPLIES = [("inbox", "view_cannedreply")]
_TEAM_CANNED_REPLIES = [("inbox", "manage_team_replies")]
# Contact attributes: agents fill in customers' values; admins define the fields.
_EDIT_ATTRIBUTE_VALUES = [("conversations", "change_contactattributevalue")]
_DEFINE_ATTRIBUTES = [
    *(("conversations", f"{action}_contactattribute") for action in ("view", "add", "change", "delete")),
    ("conversations", "view_contactattributevalue"),
]

ROLE_PERMISSIONS = {
    AGENTS: [
        *_READ_CONVERSATIONS,
        *_ANSWER,
        *_OWN_REPORTS,
        *_WRITE_NOTES,
        *_OWN_CANNED_REPLIES,
        *_READ_CANNED_REPLIES,
        *_EDIT_ATTRIBUTE_VALUES,
    ],
    SUPERVISORS: [*_READ_CONVERSATIONS, *_TEAM_REPORTS, *_REASSIGN, *_WRITE_NOTES, *_READ_CANNED_REPLIES],
    ADMINS: [
        *_READ_CONVERSATIONS,
        *_INSPECT_CHANNEL,
        *_TEAM_REPORTS,
        *_MANAGE_RATES,
        *_UNLOCK_SIGN_INS,
        *_READ_CANNED_REPLIES,
        *_TEAM_CANNED_REPLIES,
        *_DEFINE_ATTRIBUTES,
        *_MANAGE_TEAMS_AND_LABELS,
        ("templates_app", "add_messagetemplate"),
        ("templates_app", "change_messagetemplate"),
        ("templates_app", "delete_messagetemplate"),
    ],
}


def sync_roles(apps):
    """Create the groups and give each exactly its permissions. `apps` is a (historical) app registry."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrate; make sure they exist before they are granted.
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)  # None in a historical registry
        app_config.models_module = models_module or True
        try:
            create_permissions(app_config, verbosity=0, apps=apps)
        finally:
            app_config.models_module = models_module

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = [
            Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            for app_label, codename in perms
            # An app migrated later in the plan grants its permissions in its own re-sync migration.
            if _migrated(apps, app_label)
        ]
        # A model created later in the plan than this sync has no permission yet: a later re-sync
        # migration (inbox 0004…) grants it.
        group.permissions.set([permission for permission in wanted if permission is not None])


def _migrated(apps, app_label) -> bool:
    try:
        return any(True for _ in apps.get_app_config(app_label).get_models())
    except LookupError:
        return False


def sync_roles_after_migrate(sender, *, apps=None, **kwargs):
    """post_migrate (after a migrate, or a flush, which passes no app registry): once, after the last
    app's signal, when every app's tables and permissions exist."""
    from django.apps import apps as installed

    # Django sends post_migrate for each app with models, in INSTALLED_APPS order.
    with_models = [config for config in installed.get_app_configs() if config.models_module is not None]
    if sender.label != with_models[-1].label:
        return
    sync_roles(apps or installed)
