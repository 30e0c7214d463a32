from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError

from reports.periods import DEFAULT_PRESET, MAX_DAYS, Period, Preset, preset_period

_QUOTED_MAX = 40  # characters of a wrong value quoted back


class DayField(forms.DateField):
    """A day as a date input sends it (YYYY-MM-DD); a value that is not one is quoted in the message."""

    def __init__(self, *, which: str, **kwargs):
        self.which = which
        super().__init__(**kwargs)

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError:
            raise ValidationError(
                "“%(value)s” is not a day: write the %(which)s as YYYY-MM-DD, like 2026-01-31.",
                code="invalid",
                params={"value": _quoted(value), "which": self.which},
            ) from None


def _quoted(value) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= _QUOTED_MAX else text[: _QUOTED_MAX - 1] + "…"


class PeriodForm(forms.Form):
    """The date range of every report page: a preset, or custom days (business time zone)."""

    range = forms.ChoiceField(
        label="Period",
        choices=[(p.value, p.label) for p in Preset],
        required=False,
        initial=DEFAULT_PRESET,
        error_messages={
            "invalid_choice": "“%(value)s” is not a period these reports offer: choose one from the list."
        },
    )
    start = DayField(
        label="From",
        which="first day (From)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    end = DayField(
        label="To",
        which="last day (To)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, data=None, **kwargs):
        if data is not None and not data.get("range") and (data.get("start") or data.get("end")):
            data = data.copy()  # days without a period are a custom period: the list says so too
            data["range"] = Preset.CUSTOM.value
        super().__init__(data, **kwargs)

    def clean(self):
        data = super().clean()
        if "range" in self.errors:
            return data
        data["range"] = Preset(data.get("range") or DEFAULT_PRESET)
        if data["range"] is Preset.CUSTOM and not self.errors:  # each wrong day is said once, above
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError(
                    "A custom period needs both a first day (From) and a last day (To).", code="incomplete"
                )
            if end < start:
                raise forms.ValidationError(
                    f"The last day ({end:%Y-%m-%d}) comes before the first day ({start:%Y-%m-%d}).",
                    code="reversed",
                )
            days = (end - start).days + 1
            if days > MAX_DAYS:
                raise forms.ValidationError(
                    f"A period can cover at most {MAX_DAYS} days; {start:%Y-%m-%d} to {end:%Y-%m-%d} is "
                    f"{days} days.",
                    code="too_long",
                )
        return data

    def problems(self) -> list[str]:
        """What is wrong with the chosen period, one sentence each; empty when nothing is."""
        if not self.is_bound or self.is_valid():
            return []
        return [
            *(message for name in self.fields for message in self.errors.get(name, [])),
            *self.non_field_errors(),
        ]

    @property
    def fallback(self) -> str:
        return f"Showing the {DEFAULT_PRESET.label.lower()} instead."

    def period(self, *, tz: ZoneInfo, now: datetime) -> Period:
        """The chosen period; the default one (last 7 days) when nothing valid was chosen."""
        if not self.is_bound or not self.is_valid():
            return preset_period(DEFAULT_PRESET, tz=tz, now=now)
        preset = self.cleaned_data["range"]
        if preset is Preset.CUSTOM:
            return Period(self.cleaned_data["start"], self.cleaned_data["end"], tz, Preset.CUSTOM)
        return preset_period(preset, tz=tz, now=now)
