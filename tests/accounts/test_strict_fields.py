"""StrictFieldsMixin: unknown input keys are errors, known read-only keys are ignored."""

from rest_framework import serializers

from fleetwatch.api.serializers import StrictFieldsMixin


class Child(StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField()


class Parent(StrictFieldsMixin, serializers.Serializer):
    pk = serializers.IntegerField(read_only=True)
    title = serializers.CharField()
    count = serializers.IntegerField(required=False)
    child = Child(required=False)


def test_unknown_key_is_named_in_the_error():
    serializer = Parent(data={"title": "x", "titel": "y"})
    assert not serializer.is_valid()
    assert serializer.errors == {"titel": ["Unknown field."]}
    assert serializer.errors["titel"][0].code == "unknown_field"


def test_known_read_only_key_is_ignored():
    serializer = Parent(data={"pk": 7, "title": "x"})
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data == {"title": "x"}


def test_unknown_keys_are_reported_with_other_field_errors():
    serializer = Parent(data={"count": "many", "extra": 1})
    assert not serializer.is_valid()
    assert serializer.errors == {
        "title": ["This field is required."],
        "count": ["A valid integer is required."],
        "extra": ["Unknown field."],
    }


def test_nested_serializer_using_the_mixin_is_strict_too():
    serializer = Parent(data={"title": "x", "child": {"name": "a", "age": 3}})
    assert not serializer.is_valid()
    assert serializer.errors == {"child": {"age": ["Unknown field."]}}


def test_partial_update_still_rejects_unknown_keys():
    serializer = Parent(instance={"title": "x"}, data={"bogus": 1}, partial=True)
    assert not serializer.is_valid()
    assert serializer.errors == {"bogus": ["Unknown field."]}


def test_csrf_token_of_html_forms_is_not_data():
    serializer = Parent(data={"title": "x", "csrfmiddlewaretoken": "abc"})
    assert serializer.is_valid(), serializer.errors
    assert "csrfmiddlewaretoken" not in serializer.validated_data


def test_non_object_body_keeps_drf_error():
    serializer = Parent(data=["title"])
    assert not serializer.is_valid()
    assert "non_field_errors" in serializer.errors
