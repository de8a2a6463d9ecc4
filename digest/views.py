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
    """The signed link's page: unsubscribe (or subscribe again), or choose when the digest comes,
    for any recipient, account or not."""
    address = address_of(token)
    if address is None:
        return render(request, "digest/unsubscribe.html", {"invalid": True}, status=404)
    subscription = Subscription.objects.filter(address=address).first()
    form, saved = None, False
    if request.method == "POST" and request.POST.get("action") == "preferences":
        form = PreferencesForm(request.POST, instance=subscription or Subscription(address=address))
        if form.is_valid():
            subscription, form, saved = _save_preferences(form), None, True
    elif request.method == "POST":
        resubscribe = request.POST.get("action") == "resubscribe"
        subscription = _set_unsubscribed(address, not resubscribe)
        if request.POST.get("List-Unsubscribe") == "One-Click":
            return HttpResponse("Unsubscribed.\n", content_type="text/plain; charset=utf-8")
    chosen = Preferences.of(subscription)
    context = {
        "address": address,
        "unsubscribed": bool(subscription and subscription.unsubscribed_at),
        "done": request.method == "POST" and not saved and form is None,
        "saved": saved,
        "form": form or _preferences_form(subscription or Subscription(address=address)),
        "schedule": chosen.describe(),
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


def _preferences_form(subscription: Subscription, data=None) -> PreferencesForm:
    return PreferencesForm(
        data, instance=subscription, initial={"receive": subscription.unsubscribed_at is None}
    )


def _save_preferences(form: PreferencesForm) -> Subscription:
    saved = form.save(commit=False)
    receive = form.cleaned_data["receive"]
    if not receive and saved.unsubscribed_at is None:
        saved.unsubscribed_at = timezone.now()
    elif receive:
        saved.unsubscribed_at = None
    saved.save()
    return saved


@login_required
def preferences(request):
    address = normalise_address(request.user.email) if request.user.email else ""
    if not address:
        return render(request, "digest/preferences.html", {"address": ""})
    subscription = Subscription.objects.filter(address=address).first() or Subscription(address=address)
    form = _preferences_form(subscription, request.POST or None)
    if request.method == "POST" and form.is_valid():
        _save_preferences(form)
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
