"""Write-only form widget and field for `EncryptedTextField`.

The widget never renders the stored value, in plaintext or encrypted: it shows
"set" / "not set" beside an empty password input, plus a "clear" checkbox when
the model field may be blank. An empty submission means "keep what is stored".
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext


class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


KEEP = _Marker("keep stored secret")  # input left empty: keep the stored value
CLEAR = _Marker("clear stored secret")  # clear box ticked: store ""
_CONTRADICTION = _Marker("new value and clear")


class SecretInput(forms.PasswordInput):
    """A password input that reports only whether a value is stored."""

    def __init__(self, attrs=None, clearable: bool = False):
        super().__init__(attrs={"autocomplete": "new-password", **(attrs or {})}, render_value=False)
        self.clearable = clearable

    def clear_checkbox_name(self, name: str) -> str:
        return f"{name}__clear"

    def use_required_attribute(self, initial) -> bool:
        # Leaving the input empty is how an editor keeps the stored secret.
        return False

    def render(self, name, value, attrs=None, renderer=None):
        is_set = bool(value) and value is not CLEAR
        # The value is dropped here: only its presence is shown.
        html = format_html(
            '{} <span class="secret-status">{}</span>',
            super().render(name, None, attrs, renderer),
            gettext("set") if is_set else gettext("not set"),
        )
        if self.clearable and is_set:
            checkbox_name = self.clear_checkbox_name(name)
            checkbox_id = f"{(attrs or {}).get('id') or 'id_' + name}__clear"
            html = format_html(
                '{} <input type="checkbox" name="{}" id="{}"> <label for="{}">{}</label>',
                html,
                checkbox_name,
                checkbox_id,
                checkbox_id,
                gettext("clear"),
            )
        return html

    def value_from_datadict(self, data, files, name):
        value = super().value_from_datadict(data, files, name)
        if self.clearable and forms.CheckboxInput().value_from_datadict(data, files, self.clear_checkbox_name(name)):
            return _CONTRADICTION if value else CLEAR
        return value

    def value_omitted_from_data(self, data, files, name):
        return name not in data and self.clear_checkbox_name(name) not in data


class SecretFormField(forms.CharField):
    """Cleans to the new plaintext, `KEEP` (input empty) or `CLEAR` (clear box ticked)."""

    widget = SecretInput

    def __init__(self, *, clearable: bool = False, **kwargs):
        kwargs["widget"] = SecretInput(clearable=clearable)
        kwargs["strip"] = False
        kwargs["show_hidden_initial"] = False  # a hidden initial input would carry the value
        super().__init__(**kwargs)

    def to_python(self, value):
        if value is _CONTRADICTION:
            raise ValidationError(gettext("Either enter a new value or tick clear, not both."), code="contradiction")
        if value is CLEAR or value is KEEP:
            return value
        if value in self.empty_values:
            return KEEP
        return super().to_python(value)

    def run_validators(self, value):
        if value is not KEEP and value is not CLEAR:
            super().run_validators(value)

    def bound_data(self, data, initial):
        # A re-rendered form shows whether a secret is stored, never what was typed.
        return initial

    def has_changed(self, initial, data):
        if data is CLEAR:
            return bool(initial)
        return data not in (None, "", KEEP, _CONTRADICTION) and data != initial
