"""Forms of the pages that write: an admin suppressing a finding."""

from datetime import UTC, datetime, time, timedelta

from django import forms
from django.utils import timezone


class SuppressForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000, strip=True)
    until = forms.DateField(
        label="Until",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="It ends at 00:00 UTC that day.",
    )

    @classmethod
    def default(cls) -> "SuppressForm":
        return cls(initial={"until": (timezone.now() + timedelta(days=30)).date()})

    def clean_until(self):
        expires = datetime.combine(self.cleaned_data["until"], time.min, tzinfo=UTC)
        if expires <= timezone.now():
            raise forms.ValidationError("A suppression ends in the future.")
        return expires
