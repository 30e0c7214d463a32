from django.shortcuts import render

from accounts import roles

# What each permission the inbox checks means, in the words of the roles that have it.
PERMISSION_NAMES = {
    "conversations.view_customer": "see the inbox (agents, supervisors and admins)",
    "conversations.send_message": "send messages to customers (agents)",
    "conversations.assign_customer": "assign customers (agents take threads; supervisors reassign them)",
    "conversations.change_thread_status": "resolve, snooze or reopen threads (agents)",
    "conversations.label_customer": "put labels on customers' threads (agents and supervisors)",
    "conversations.set_availability": "switch between available and away (agents)",
    "templates_app.view_messagetemplate": "see the message templates (agents, supervisors and admins)",
    "inbox.add_note": "write private notes in threads (agents and supervisors)",
    "inbox.add_cannedreply": "keep canned replies of your own (agents)",
    "inbox.view_cannedreply": "see canned replies (agents, supervisors and admins)",
    "inbox.manage_team_replies": "manage the team's canned replies (admins)",
    "conversations.change_contactattributevalue": "change customers' contact fields (agents)",
    "reports.view_reports": "see reports (agents their own figures, supervisors and admins everyone's)",
}


def permission_denied(request, exception=None):
    """A 403 that says what is missing and who can grant it."""
    missing = str(exception) if exception and str(exception) in PERMISSION_NAMES else ""
    context = {
        "missing": PERMISSION_NAMES.get(missing, ""),
        "groups": [g.name for g in request.user.groups.all()] if request.user.is_authenticated else [],
        "roles": roles.ROLE_PERMISSIONS.keys(),
    }
    return render(request, "403.html", context, status=403)
