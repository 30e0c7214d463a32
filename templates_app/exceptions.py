"""The base of every rule-breaking error, and the template catalogue's own: parameters that do not fit a
template. Pure Python (no Django).

The base lives here, in the bottom layer, so that an error the catalogue raises is a domain error too
(`except DomainError` in a view catches it) without the catalogue importing the domain above it;
conversations.exceptions re-exports both beside the domain's own errors.
"""


class DomainError(Exception):
    code = "domain_error"
    default_message = "The request breaks a rule of the platform."

    def __init__(self, message: str | None = None):
        self.message = message or self.default_message
        super().__init__(self.message)


class TemplateParamsInvalid(DomainError, ValueError):
    """The parameters do not fit the template's placeholders."""

    code = "template_params_invalid"
    default_message = "The parameters do not fit this template."

    def __init__(self, errors: list[str] | str):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("; ".join(self.errors))
