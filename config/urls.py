from django.contrib import admin
from django.urls import include, path

from inbox import views as inbox_views

urlpatterns = [
    path("healthz", inbox_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("webhooks/", include("whatsapp.urls")),
    path("reports/", include("reports.urls")),
    path("", include("inbox.urls")),
]

handler403 = "accounts.errors.permission_denied"
