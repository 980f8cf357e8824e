from django import forms

from .event_types import EVENT_TYPES, SUBSCRIBABLE
from .services import EndpointRefused, clean_endpoint


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=500,
        help_text="Where events are POSTed: an https:// address reachable from the internet.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks/nbq", "autocomplete": "off"}),
    )
    description = forms.CharField(label="Description", max_length=200, required=False)
    all_events = forms.BooleanField(label="All events", required=False)
    event_types = forms.MultipleChoiceField(
        label="Event types",
        required=False,
        choices=[(name, name) for name in SUBSCRIBABLE],
        widget=forms.CheckboxSelectMultiple,
        help_text="Checked types are sent (ignored when All events is checked).",
    )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            data["url"], data["event_types"] = clean_endpoint(
                url=data.get("url", ""), all_events=data.get("all_events", False), event_types=data.get("event_types")
            )
        except EndpointRefused as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data

    def descriptions(self):
        return EVENT_TYPES
