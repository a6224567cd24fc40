"""``Authorization: Token <key>`` for every API client, as Argus does it."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF tokens that expire ``AUTH_TOKEN_EXPIRES_AFTER_DAYS`` after creation (then deleted)."""

    def authenticate_credentials(self, key: str):
        try:
            token = Token.objects.select_related("user").get(key=key)
        except Token.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        lifetime = timedelta(days=settings.AUTH_TOKEN_EXPIRES_AFTER_DAYS)
        if token.created + lifetime < timezone.now():
            token.delete()
            raise exceptions.AuthenticationFailed("Token has expired.")
        return token.user, token
