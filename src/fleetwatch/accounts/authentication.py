"""``Authorization: Token <key>`` for every API client, as Argus does it.

Both of Argus's token kinds use the ``Token`` keyword and are told apart by length: a DRF
authtoken has 40 hex characters (one per user, ``/token-auth/``), a login token 64
(many per user, ``/auth/token/login/``).
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from fleetwatch import fastsql
from fleetwatch.accounts.models import LoginToken, User
from fleetwatch.fastsql import tokens as fastsql_tokens
from fleetwatch.incidents.heartbeats import touch

INVALID = "Invalid token."
EXPIRED = "Token has expired."
INACTIVE = "User inactive or deleted."


def find_drf_token(key: str) -> Token | None:
    """The token with its user and the user's source system (or none), in one query: plain
    SQL when the fast SQL is on (``fastsql.tokens``), else the ORM's ``select_related``."""
    if fastsql.enabled():
        return fastsql_tokens.find_drf_token(key)
    return Token.objects.select_related("user", "user__source_system").filter(key=key).first()


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF tokens expiring ``AUTH_TOKEN_EXPIRES_AFTER_DAYS`` after creation, and login tokens
    expiring at their ``expiry``; an expired token is deleted on first use.

    ``request.auth`` is the ``Token`` or ``LoginToken`` used, so a view can tell them apart.
    Being the first authentication class, its ``authenticate_header`` ("Token") also makes DRF
    answer 401, not 403, when credentials are missing or wrong.
    """

    @sensitive_variables("key")
    def authenticate_credentials(self, key: str) -> tuple[User, Token | LoginToken]:
        if len(key) == LoginToken.KEY_LENGTH:
            return self.authenticate_login_token(key)
        return self.authenticate_drf_token(key)

    @sensitive_variables("key")
    def authenticate_drf_token(self, key: str) -> tuple[User, Token]:
        token = find_drf_token(key)
        if token is None:
            raise exceptions.AuthenticationFailed(INVALID)
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(INACTIVE)
        lifetime = timedelta(days=settings.AUTH_TOKEN_EXPIRES_AFTER_DAYS)
        if token.created + lifetime < timezone.now():
            token.delete()
            raise exceptions.AuthenticationFailed(EXPIRED)
        touch(getattr(token.user, "source_system", None))  # heard from: a heartbeat
        return token.user, token

    @sensitive_variables("key")
    def authenticate_login_token(self, key: str) -> tuple[User, LoginToken]:
        token = LoginToken.objects.find(key)
        if token is None:
            raise exceptions.AuthenticationFailed(INVALID)
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(INACTIVE)
        if token.is_expired:
            token.delete()
            raise exceptions.AuthenticationFailed(EXPIRED)
        return token.user, token
