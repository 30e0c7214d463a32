from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms

from reports.periods import DEFAULT_PRESET, MAX_DAYS, Period, Preset, preset_period


class PeriodForm(forms.Form):
    """The date range of every report page: a preset, or custom days (business time zone)."""

    range = forms.ChoiceField(
        label="Period", choices=[(p.value, p.label) for p in Preset], required=False, initial=DEFAULT_PRESET
    )
    start = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def clean(self):
        data = super().clean()
        preset = data.get("range") or (
            Preset.CUSTOM if data.get("start") or data.get("end") else DEFAULT_PRESET
        )
        data["range"] = Preset(preset)
        if data["range"] is Preset.CUSTOM:
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError("A custom period needs both a first and a last day.")
            if end < start:
                raise forms.ValidationError("The last day comes before the first day.")
            if (end - start).days + 1 > MAX_DAYS:
                raise forms.ValidationError(f"A period can cover at most {MAX_DAYS} days.")
        return data

    def period(self, *, tz: ZoneInfo, now: datetime) -> Period:
        """The chosen period; the default one (last 7 days) when nothing valid was chosen."""
        if not self.is_bound or not self.is_valid():
            return preset_period(DEFAULT_PRESET, tz=tz, now=now)
        preset = self.cleaned_data["range"]
        if preset is Preset.CUSTOM:
            return Period(self.cleaned_data["start"], self.cleaned_data["end"], tz, Preset.CUSTOM)
        return preset_period(preset, tz=tz, now=now)
