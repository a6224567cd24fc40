"""The plain-SQL token lookup of the API's token authentication builds what the ORM built."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from fleetwatch.accounts.authentication import find_drf_token


def _orm(key: str) -> Token:
    return Token.objects.select_related("user", "user__source_system").get(key=key)


def _state(obj) -> dict:
    return {k: v for k, v in obj.__dict__.items() if k != "_state"}


def test_source_token_matches_orm(source):
    key = Token.objects.get_or_create(user=source.user)[0].key
    expected = _orm(key)
    with CaptureQueriesContext(connection) as queries:
        token = find_drf_token(key)
        user = token.user
        assert user.auth_token is token
        found_source = user.source_system
        assert found_source.user is user
    assert len(queries) == 1
    assert _state(token) == _state(expected)
    assert _state(user) == _state(expected.user)
    assert _state(found_source) == _state(expected.user.source_system)
    assert isinstance(user.is_active, bool) and isinstance(user.is_superuser, bool)
    assert token.created.tzinfo is not None and not token._state.adding


def test_person_token_has_no_source(enduser):
    key = Token.objects.get_or_create(user=enduser)[0].key
    token = find_drf_token(key)
    with CaptureQueriesContext(connection) as queries:
        assert getattr(token.user, "source_system", None) is None
    assert len(queries) == 0
    assert _state(token.user) == _state(_orm(key).user)


@pytest.mark.django_db
def test_unknown_key():
    assert find_drf_token("0" * 40) is None
