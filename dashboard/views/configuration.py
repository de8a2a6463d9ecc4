"""The settings the rules are told to trust, for admins (anyone else: 404, as for what they may not see)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from dashboard.configuration import cluster_settings, environment_settings
from tenancy.access import scope_of


@login_required
def settings_page(request):
    scope = scope_of(request.user)
    if not scope.admin:
        raise Http404("no such page")
    context = {"clusters": cluster_settings(scope), "environment": environment_settings()}
    return render(request, "dashboard/settings.html", context)
