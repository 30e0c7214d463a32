from django.urls import path

from whatsapp import views

urlpatterns = [path("whatsapp/", views.webhook, name="whatsapp-webhook")]
