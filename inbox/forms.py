"""Compose forms: they parse what the agent typed. Whether it may be sent is the services' decision."""

import re

from django import forms

from conversations.exceptions import TemplateParamsInvalid
from conversations.limits import TEXT_MAX_CHARS
from conversations.selectors import attribute_values
from inbox.canned import unfilled
from templates_app import components, rendering
from templates_app.models import MessageTemplate
from templates_app.placeholders import POSITIONAL
from templates_app.sending import LOCATION_FIELDS

# Parameter names that mean "the customer's name", and positional bodies that greet by name.
NAME_PARAMETERS = {"name", "first_name", "customer_name", "full_name", "customer"}
GREETING = re.compile(
    r"^\s*(hi|hello|hey|dear|good (morning|afternoon|evening)|olá|hola|hallo|bonjour)\b[ ,!]*\{\{1\}\}",
    re.IGNORECASE,
)


class ErrorText:
    def error_text(self) -> str:
        messages = []
        for name, errors in self.errors.items():
            label = self.fields[name].label if name in self.fields else ""
            messages += [f"{label}: {e}" if label and name != "__all__" else str(e) for e in errors]
        return " ".join(messages)


class TextSendForm(ErrorText, forms.Form):
    body = forms.CharField(
        label="Message",
        max_length=TEXT_MAX_CHARS,
        strip=False,
        error_messages={"required": "The message is empty: write something to send."},
    )
    client_token = forms.UUIDField(widget=forms.HiddenInput)
    # The message this one replies to (its id in the thread): the service checks it is this customer's.
    reply_to = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_body(self):
        body = self.cleaned_data["body"]
        if not body.strip():
            raise forms.ValidationError("The message is empty: write something to send.")
        return _all_filled(body)


class AttachmentSendForm(ErrorText, forms.Form):
    """A file an agent sends, with the reply box's text as its optional caption. What the file is, and
    whether it may be sent, is decided from its bytes (whatsapp.media_types) and by the services."""

    file = forms.FileField(
        label="File",
        allow_empty_file=False,
        error_messages={"empty": "The file is empty.", "required": "Choose a file to send."},
    )
    body = forms.CharField(label="Caption", required=False, strip=False)
    client_token = forms.UUIDField(widget=forms.HiddenInput)

    def clean_body(self):
        return _all_filled(self.cleaned_data["body"])


def _all_filled(text: str) -> str:
    """A canned reply's variable with no value stays in the text as {{…}}: never sent like that."""
    left = unfilled(text)
    if left:
        raise forms.ValidationError(
            f"The reply still has {', '.join(left)}: a variable with no value for this customer. "
            "Replace it with the right text, or remove it, then send."
        )
    return text


class TemplateSendForm(ErrorText, forms.Form):
    """One text field per placeholder of the template's body, named p_<placeholder>."""

    client_token = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, template: MessageTemplate, customer, data=None):
        super().__init__(data)
        self.template = template
        first_name = (customer.name or "").split(" ")[0]
        examples = components.example_values(template.component(components.BODY), template.parameter_format)
        # Named parameters are prefilled from the customer's contact attribute of the same key (issue 15).
        attributes = attribute_values(customer) if template.parameter_format != POSITIONAL else {}
        for name in template.parameter_names:
            initial = attributes.get(name, "")
            if name in NAME_PARAMETERS or (
                template.parameter_format == POSITIONAL and name == "1" and GREETING.match(template.body_text)
            ):
                initial = customer.name if name in {"full_name", "customer_name", "name"} else first_name
            self.fields[f"p_{name}"] = _field(f"{{{{{name}}}}}", examples.get(name), initial=initial)
        # Beyond the body (templates_app.sending): a header's value and URL buttons' link ends.
        inputs = template.send_inputs
        if inputs.header is not None and inputs.header.format == "LOCATION":
            for part in LOCATION_FIELDS:
                label = f"Header location: {part}" + (" (optional)" if part in ("name", "address") else "")
                self.fields[f"header_{part}"] = _field(label)
        elif inputs.header is not None:
            header = template.component(components.HEADER)
            example = components.example_values(header, template.parameter_format).get(inputs.header.name)
            self.fields["header"] = _field(inputs.header.label, example)
        listed = (template.component(components.BUTTONS) or {}).get("buttons") or []
        for button in inputs.asked:
            example = components.button_example(listed[button.index]) if button.index < len(listed) else ""
            self.fields[f"button_{button.index}"] = _field(button.label, example)

    def values(self) -> dict[str, str]:
        source = self.data if self.is_bound else {f"p_{n}": self.fields[f"p_{n}"].initial for n in self.names}
        return {name: source.get(f"p_{name}", "") for name in self.names}

    @property
    def names(self) -> list[str]:
        return self.template.parameter_names

    def params(self):
        values = self.values()
        if self.template.parameter_format == POSITIONAL:
            return [values[name] for name in self.names]
        return values

    def extras(self) -> dict:
        """The header's value and the URL buttons' link ends, as services.send_template takes them."""
        source = self.data if self.is_bound else {}
        inputs = self.template.send_inputs
        extras: dict = {}
        if "header" in self.fields:
            extras["header"] = source.get("header", "")
        elif "header_latitude" in self.fields:
            extras["header"] = {part: source.get(f"header_{part}", "") for part in LOCATION_FIELDS}
        buttons = {str(b.index): source.get(f"button_{b.index}", "") for b in inputs.asked}
        if buttons:
            extras["buttons"] = buttons
        return extras

    def preview(self) -> tuple[rendering.Rendered, list[str]]:
        """The message as the customer will see it (header, body, footer, buttons), and what is missing
        or wrong, in words. Once nothing is, it is the send's own rendering: exactly what the message
        stores and the platform receives. Until then, what is missing stays visible as its placeholder."""
        try:
            send = self.template.render_send(self.params(), self.extras())
        except TemplateParamsInvalid as error:
            return self.template.shown(self.values(), self.extras()), error.errors
        return send.rendered, []


def _field(label: str, example: str | None = None, *, initial: str = "") -> forms.CharField:
    """A parameter's text field; the template's example value, if it has one, is its hint."""
    return forms.CharField(
        label=label,
        required=False,
        initial=initial,
        strip=False,
        help_text=f"e.g. {example}" if example else "",
    )
