from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("", views.index, name="index"),
    path("conversations/", views.conversations, name="conversations"),
    path("windows/", views.windows, name="windows"),
    path("costs/", views.costs, name="costs"),
]
