"""Auth endpoints: who am I, other users, tokens (DRF and login), phone numbers (v1)."""

from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from fleetwatch.accounts.api.serializers import (
    BasicUserSerializer,
    CredentialsSerializer,
    CurrentUserSerializer,
    CurrentUserSerializerV1,
    EmptySerializer,
    LoginTokenSerializer,
    PhoneNumberSerializer,
    TokenSerializer,
)
from fleetwatch.accounts.authentication import INVALID
from fleetwatch.accounts.models import LoginToken, PhoneNumber, User, replace_drf_token
from fleetwatch.api.validation import StrictQueryParams, require_object

hide_password = method_decorator(sensitive_post_parameters("password"), name="dispatch")


def requesting_user(request: Request) -> User:
    """The user the request is authenticated as; these views let no one else in."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def require_empty_body(request: Request) -> None:
    """400 naming any key sent to an endpoint that takes no input."""
    EmptySerializer(data=request.data).is_valid(raise_exception=True)


class CurrentUserView(StrictQueryParams, generics.GenericAPIView):
    """``GET auth/user/``: the requesting user (v1 adds ``phone_numbers``)."""

    def get_serializer_class(self) -> type[CurrentUserSerializer]:
        if self.request.version == "v1":
            return CurrentUserSerializerV1
        return CurrentUserSerializer

    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(request.user).data)


class UserDetailView(StrictQueryParams, generics.RetrieveAPIView):
    """``GET auth/users/<pk>/``: a user's name and e-mail address, as Argus shows them.

    Argus shows any user to anyone logged in; here staff see every user and everyone else
    only themselves (another user is a 404, so ids cannot be probed). Events and
    acknowledgements carry their actor's name themselves (README, "stricter than Argus").
    """

    serializer_class = BasicUserSerializer

    def get_queryset(self):
        if self.request.user.is_staff:
            return User.objects.all()
        return User.objects.filter(pk=self.request.user.pk)


@hide_password
class ObtainTokenView(StrictQueryParams, APIView):
    """``POST token-auth/``: exchange a username and password for a new DRF token.

    Like Argus, this deletes the user's previous DRF token: there is one per user. Unlike
    Argus, the ``Authorization`` header is not looked at, so a client holding an expired
    token can still log in (Argus answers 401 before reading the password).
    """

    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(request=CredentialsSerializer, responses=TokenSerializer)
    def post(self, request: Request) -> Response:
        serializer = CredentialsSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        token = replace_drf_token(serializer.validated_data["user"])
        return Response({"token": token.key})


class RefreshTokenView(StrictQueryParams, APIView):
    """``POST auth/refresh-token/``: replace the DRF token the request is made with.

    The old token, and every login token minted with it, stop working at once. A login token
    cannot do this (400): a 10-hour token must not turn itself into a 14-day one, nor revoke
    the token it may have come from. With a session (a password login, like ``token-auth/``)
    the user's DRF token is replaced, or made if there is none.
    """

    @extend_schema(
        request=None,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(description="Made with a login token."),
        },
    )
    def post(self, request: Request) -> Response:
        require_empty_body(request)
        if isinstance(request.auth, LoginToken):
            return Response(
                {"detail": "Only a DRF token (from token-auth/) can be refreshed."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        token = replace_drf_token(requesting_user(request))
        return Response({"token": token.key})


@hide_password
class LoginView(StrictQueryParams, APIView):
    """``POST auth/token/login/``: a new login token (64 hex characters, expiring after
    ``LOGIN_TOKEN_TTL_HOURS``), for the posted ``{"username", "password"}`` or, with an empty
    body, for the user the request is authenticated as. A token minted with another token is
    derived from it: revoked with it, and expiring no later.

    Deviation from Argus: bad credentials are ``400 {"non_field_errors": ["Unable to log in
    with provided credentials."]}``, the same JSON object ``token-auth/`` answers, where Argus
    (knox) answers 403 with the error dict stringified into ``detail``. No session is opened.
    """

    permission_classes = (AllowAny,)

    @extend_schema(request=CredentialsSerializer, responses=LoginTokenSerializer)
    def post(self, request: Request) -> Response:
        require_object(request.data)
        derived_from: Token | LoginToken | None = None
        if not request.data and isinstance(request.user, User):
            user = request.user
            if isinstance(request.auth, Token | LoginToken):
                derived_from = request.auth
        else:
            serializer = CredentialsSerializer(data=request.data, context={"request": request})
            serializer.is_valid(raise_exception=True)
            user = serializer.validated_data["user"]
        issued = LoginToken.objects.issue(user, derived_from=derived_from)
        if issued is None:  # the token it was asked with was revoked meanwhile
            raise AuthenticationFailed(INVALID)
        token, key = issued
        return Response(LoginTokenSerializer({"expiry": token.expiry, "token": key}).data)


class LogoutView(StrictQueryParams, APIView):
    """``POST auth/token/logout/``: delete the login token this request was made with."""

    @extend_schema(
        request=None,
        responses={204: None, 400: OpenApiResponse(description="Not made with a login token.")},
    )
    def post(self, request: Request) -> Response:
        require_empty_body(request)
        if not isinstance(request.auth, LoginToken):
            # knox answers 401 "Invalid token." here, which wrongly suggests the token is bad.
            return Response(
                {"detail": "Only a login token (from auth/token/login/) can be logged out."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(StrictQueryParams, APIView):
    """``POST auth/token/logoutall``: delete all the user's login tokens (DRF token kept)."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        require_empty_body(request)
        LoginToken.objects.filter(user=requesting_user(request)).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class OwnPhoneNumbers(StrictQueryParams, generics.GenericAPIView):
    """Only the requesting user's numbers exist for these views; others' are 404."""

    serializer_class = PhoneNumberSerializer
    pagination_class = None  # a plain array, as Argus v1

    def get_queryset(self):
        return PhoneNumber.objects.filter(user=requesting_user(self.request))


class PhoneNumberListView(OwnPhoneNumbers, generics.ListCreateAPIView):
    """``GET, POST auth/phone-number/`` (v1)."""

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.save(user=requesting_user(self.request))


class PhoneNumberDetailView(OwnPhoneNumbers, generics.RetrieveUpdateDestroyAPIView):
    """``GET, PUT, PATCH, DELETE auth/phone-number/<pk>/`` (v1)."""
