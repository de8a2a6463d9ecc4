from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Dashboard"


class DashboardAdminConfig(admin_apps.AdminConfig):
    """Django's admin, open to dashboard admins only (see DashboardAdminSite)."""

    default = False
    default_site = "dashboard.admin_site.DashboardAdminSite"
