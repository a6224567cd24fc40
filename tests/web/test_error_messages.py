"""The console shows a service's ValidationError whatever its shape (web/http.py)."""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.template.loader import render_to_string

from fleetwatch.web.http import error_lines, field_errors


def test_a_dict_names_each_field_and_keeps_every_message():
    exc = ValidationError({"name": ["Too long.", "Taken."], "level": ["1 to 5."]})
    assert field_errors(exc) == {"name": ["Too long.", "Taken."], "level": ["1 to 5."]}
    assert error_lines(exc) == ["name: Too long.", "name: Taken.", "level: 1 to 5."]


def test_a_plain_message_or_list_is_a_message_without_a_field_name():
    assert field_errors(ValidationError("Nope.")) == {NON_FIELD_ERRORS: ["Nope."]}
    assert error_lines(ValidationError(["One.", "Two."])) == ["One.", "Two."]
    mixed = ValidationError({NON_FIELD_ERRORS: ["Both at once."], "end": ["Bad."]})
    assert error_lines(mixed) == ["Both at once.", "end: Bad."]


def test_the_error_box_names_fields_but_not_the_non_field_key():
    errors = field_errors(ValidationError({NON_FIELD_ERRORS: ["Whole form."], "url": ["Bad."]}))
    html = render_to_string("web/_errors.html", {"errors": errors, "lead": "Not saved:"})
    assert 'role="alert"' in html and "<p>Not saved:</p>" in html
    assert "<li>Whole form.</li>" in html and "<li>url: Bad.</li>" in html
    assert "__all__" not in html
    assert render_to_string("web/_errors.html", {"errors": {}}).strip() == ""
