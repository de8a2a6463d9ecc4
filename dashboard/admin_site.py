"""The admin site: every table unscoped (findings of every tenant, grants, arrays), so only a dashboard
admin (tenancy.access.is_admin) may enter; staff status alone, or a model permission, is not enough."""

from django.contrib.admin import AdminSite


class DashboardAdminSite(AdminSite):
    site_header = "Storage Exposure Dashboard administration"

    def has_permission(self, request):
        from tenancy.access import is_admin  # the admin site loads before the apps' models

        return super().has_permission(request) and is_admin(request.user)
