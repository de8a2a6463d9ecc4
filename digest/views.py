"""The digest's two pages: unsubscribing through the signed link (no account needed), and an
account's preferences."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from digest.links import address_of
from digest.models import Subscription
from digest.recipients import recipient_for
from digest.schedule import Preferences, next_moment
from tenancy.ownership import normalise_address

ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058's POST body


# No CSRF token: the signed token in the URL is the credential, which a forging site cannot know,
# and a mail provider's RFC 8058 one-click POST carries none.  GET only asks (link scanners and
# prefetchers follow GETs): nothing changes without a POST.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    address = address_of(token)
    if address is None:
        return render(request, "digest/unsubscribe.html", {"invalid": True}, status=404)
    subscription = Subscription.objects.filter(address=address).first()
    if request.method == "POST":
        resubscribe = request.POST.get("action") == "resubscribe"
        subscription = _set_unsubscribed(address, not resubscribe)
        if request.POST.get("List-Unsubscribe") == "One-Click":
            return HttpResponse("Unsubscribed.\n", content_type="text/plain; charset=utf-8")
    context = {
        "address": address,
        "unsubscribed": bool(subscription and subscription.unsubscribed_at),
        "done": request.method == "POST",
    }
    return render(request, "digest/unsubscribe.html", context)


def _set_unsubscribed(address: str, unsubscribed: bool) -> Subscription:
    subscription, _ = Subscription.objects.get_or_create(address=address)
    if unsubscribed and subscription.unsubscribed_at is None:
        subscription.unsubscribed_at = timezone.now()
    elif not unsubscribed:
        subscription.unsubscribed_at = None
    subscription.save()
    return subscription


class PreferencesForm(forms.ModelForm):
    receive = forms.BooleanField(required=False, label="Send me the weekly digest")

    class Meta:
        model = Subscription
        fields = ("weekday", "hour", "time_zone", "silence_when_nothing_new")
        labels = {"weekday": "Weekday", "hour": "Hour (0–23)", "time_zone": "Time zone"}


@login_required
def preferences(request):
    address = normalise_address(request.user.email) if request.user.email else ""
    if not address:
        return render(request, "digest/preferences.html", {"address": ""})
    subscription = Subscription.objects.filter(address=address).first() or Subscription(address=address)
    initial = {"receive": subscription.unsubscribed_at is None}
    form = PreferencesForm(request.POST or None, instance=subscription, initial=initial)
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        receive = form.cleaned_data["receive"]
        if not receive and saved.unsubscribed_at is None:
            saved.unsubscribed_at = timezone.now()
        elif receive:
            saved.unsubscribed_at = None
        saved.save()
        return redirect("digest-preferences")
    chosen = Preferences.of(subscription if subscription.pk else None)
    recipient = recipient_for(address)
    context = {
        "address": address,
        "form": form,
        "recipient": recipient,
        "namespaces": sum(len(n) for n in recipient.scope.namespaces.values()) if recipient else 0,
        "schedule": chosen.describe(),
        "next_moment": None if chosen.unsubscribed else next_moment(chosen, timezone.now()),
    }
    return render(request, "digest/preferences.html", context)
