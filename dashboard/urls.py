from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

import dashboard.converters  # noqa: F401  (registers `<name:…>`)
from dashboard.login_throttle import ThrottledLoginView
from dashboard.views import arrays, configuration, findings, namespaces, overview, rules, snapshots

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("clusters/<name:cluster>/", overview.cluster_detail, name="cluster"),
    path("namespaces/", namespaces.namespace_list, name="namespaces"),
    path("clusters/<name:cluster>/namespaces/", namespaces.namespace_list, name="cluster_namespaces"),
    path(
        "clusters/<name:cluster>/namespaces/<name:namespace>/", namespaces.namespace_detail, name="namespace"
    ),
    path("clusters/<name:cluster>/snapshots/", snapshots.snapshot_history, name="snapshots"),
    path("clusters/<name:cluster>/arrays/", arrays.arrays, name="arrays"),
    path("findings/", findings.findings, name="findings"),
    path("findings/export.csv", findings.findings_csv, name="findings_csv"),
    path("findings/<int:finding>/", findings.finding_detail, name="finding"),
    path("findings/<int:finding>/suppress/", findings.finding_suppress, name="finding_suppress"),
    path("findings/<int:finding>/lift/", findings.finding_lift, name="finding_lift"),
    path("rules/", rules.rules, name="rules"),
    path("settings/", configuration.settings_page, name="settings"),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", overview.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),  # the REST API (api/urls.py)
    path("digest/", include("digest.urls")),  # unsubscribing and preferences (digest/urls.py)
]
