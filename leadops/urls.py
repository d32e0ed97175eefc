from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from leadops.health import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the admin header's language menu
    path("u/", include("outreach.urls")),  # unsubscribe links in outreach emails
    path("healthz", healthz, name="healthz"),  # monitors and docker-compose health checks; no login
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
