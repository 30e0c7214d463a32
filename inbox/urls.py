from django.contrib.auth import views as auth_views
from django.urls import path

from inbox import notes_views, team_views, views, workflow_views

app_name = "inbox"

urlpatterns = [
    path("", views.inbox, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("list/", views.customer_list, name="list"),
    path("customers/<int:customer_id>/", views.inbox, name="customer"),
    path("customers/<int:customer_id>/thread/", views.thread, name="thread"),
    path("customers/<int:customer_id>/side/", views.side_panel, name="side"),
    path("customers/<int:customer_id>/compose/", views.compose, name="compose"),
    path("customers/<int:customer_id>/send/", views.send_text, name="send-text"),
    path("customers/<int:customer_id>/send-template/", views.send_template, name="send-template"),
    path("customers/<int:customer_id>/react/", views.react, name="react"),
    path("customers/<int:customer_id>/typing/", views.typing, name="typing"),
    path("customers/<int:customer_id>/presence/", views.presence_report, name="presence"),
    path("customers/<int:customer_id>/template/", views.template_form, name="template-form"),
    path("customers/<int:customer_id>/assign/", views.assign, name="assign"),
    path("customers/<int:customer_id>/status/", workflow_views.thread_status, name="thread-status"),
    path("customers/<int:customer_id>/status/change/", workflow_views.change_status, name="change-status"),
    path("customers/<int:customer_id>/media/<int:message_id>/", views.media, name="media"),
    path("customers/<int:customer_id>/labels/", team_views.add_label, name="add-label"),
    path(
        "customers/<int:customer_id>/labels/<int:label_id>/remove/",
        team_views.remove_label,
        name="remove-label",
    ),
    path("customers/<int:customer_id>/team/", team_views.set_team, name="set-team"),
    path("availability/", team_views.availability, name="availability"),
    path("templates/", views.template_catalogue, name="templates"),
    # Issue 15: private notes, notifications, contact attributes, canned replies (inbox.notes_views).
    path("customers/<int:customer_id>/notes/", notes_views.add_note, name="add-note"),
    path(
        "customers/<int:customer_id>/notes/<int:note_id>/delete/", notes_views.delete_note, name="delete-note"
    ),
    path(
        "customers/<int:customer_id>/attributes/<str:key>/", notes_views.set_attribute, name="set-attribute"
    ),
    path("customers/<int:customer_id>/canned/", notes_views.canned_for_customer, name="canned"),
    path("notifications/", notes_views.notification_list, name="notifications"),
    path("notifications/bell/", notes_views.bell, name="bell"),
    path(
        "notifications/<int:notification_id>/open/", notes_views.open_notification, name="open-notification"
    ),
    path("replies/", notes_views.replies, name="replies"),
    path("replies/<int:reply_id>/", notes_views.edit_reply, name="edit-reply"),
    path("replies/<int:reply_id>/delete/", notes_views.delete_reply, name="delete-reply"),
]
