"""Helpers for the auth API tests."""

import pytest
from rest_framework.test import APIClient

from fleetwatch.accounts.models import LoginToken

VERSIONS = ["v1", "v2"]


@pytest.fixture
def anon() -> APIClient:
    """A client sending no credentials."""
    return APIClient()


@pytest.fixture
def login_token_for():
    """``token, key = login_token_for(user)``: a login token issued as the login view does."""

    def make(user) -> tuple[LoginToken, str]:
        return LoginToken.objects.issue(user)

    return make


@pytest.fixture
def client_with():
    """An APIClient sending ``Authorization: Token <key>`` for any key, valid or not."""

    def make(key: str) -> APIClient:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return api

    return make
