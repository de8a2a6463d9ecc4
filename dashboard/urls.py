from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path, register_converter

from dashboard import views
from dashboard.converters import ObjectNameConverter
from dashboard.login_throttle import ThrottledLoginView

register_converter(ObjectNameConverter, "name")

urlpatterns = [
    path("", views.overview, name="overview"),
    path("clusters/<name:cluster>/", views.cluster_detail, name="cluster"),
    path("clusters/<name:cluster>/namespaces/<name:namespace>/", views.namespace_detail, name="namespace"),
    path("findings/", views.findings, name="findings"),
    path("findings/export.csv", views.findings_csv, name="findings_csv"),
    path("findings/<int:finding>/", views.finding_detail, name="finding"),
    path("findings/<int:finding>/suppress/", views.finding_suppress, name="finding_suppress"),
    path("findings/<int:finding>/lift/", views.finding_lift, name="finding_lift"),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
