from django.contrib import admin
from django.urls import include, path

from config import views as config_views
from inbox import views as inbox_views

urlpatterns = [
    path("healthz", inbox_views.healthz, name="healthz"),
    path("healthz/deep", config_views.healthz_deep, name="healthz-deep"),
    path("admin/", admin.site.urls),
    path("webhooks/", include("whatsapp.urls")),
    path("reports/", include("reports.urls")),
    path("", include("inbox.urls")),
]

handler403 = "accounts.errors.permission_denied"
