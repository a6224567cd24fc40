"""Auth endpoints: who am I, other users, tokens (DRF and login), phone numbers (v1)."""

from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
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
from fleetwatch.accounts.models import LoginToken, PhoneNumber, User, replace_drf_token
from fleetwatch.api.validation import StrictQueryParams, require_object

hide_password = method_decorator(sensitive_post_parameters("password"), name="dispatch")


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
    """``GET auth/users/<pk>/``: any user's public fields, e.g. to name an event's actor."""

    queryset = User.objects.all()
    serializer_class = BasicUserSerializer


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
    """``POST auth/refresh-token/``: replace the requesting user's DRF token.

    The old token stops working at once. Unlike Argus, a user without a DRF token (logged in
    with a login token or a session) gets one instead of a 400.
    """

    @extend_schema(request=None, responses=TokenSerializer)
    def post(self, request: Request) -> Response:
        require_empty_body(request)
        token = replace_drf_token(request.user)
        return Response({"token": token.key})


@hide_password
class LoginView(StrictQueryParams, APIView):
    """``POST auth/token/login/``: a new login token (64 hex characters, expiring after
    ``LOGIN_TOKEN_TTL_HOURS``), for the posted ``{"username", "password"}`` or, with an empty
    body, for the user the request is authenticated as.

    Deviation from Argus: bad credentials are ``400 {"non_field_errors": ["Unable to log in
    with provided credentials."]}``, the same JSON object ``token-auth/`` answers, where Argus
    (knox) answers 403 with the error dict stringified into ``detail``. No session is opened.
    """

    permission_classes = (AllowAny,)

    @extend_schema(request=CredentialsSerializer, responses=LoginTokenSerializer)
    def post(self, request: Request) -> Response:
        require_object(request.data)
        if not request.data and request.user is not None:
            user = request.user
        else:
            serializer = CredentialsSerializer(data=request.data, context={"request": request})
            serializer.is_valid(raise_exception=True)
            user = serializer.validated_data["user"]
        token, key = LoginToken.objects.issue(user)
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
        LoginToken.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class OwnPhoneNumbers(StrictQueryParams):
    """Only the requesting user's numbers exist for these views; others' are 404."""

    serializer_class = PhoneNumberSerializer
    pagination_class = None  # a plain array, as Argus v1

    def get_queryset(self):
        return PhoneNumber.objects.filter(user=self.request.user)


class PhoneNumberListView(OwnPhoneNumbers, generics.ListCreateAPIView):
    """``GET, POST auth/phone-number/`` (v1)."""

    def perform_create(self, serializer: PhoneNumberSerializer) -> None:
        serializer.save(user=self.request.user)


class PhoneNumberDetailView(OwnPhoneNumbers, generics.RetrieveUpdateDestroyAPIView):
    """``GET, PUT, PATCH, DELETE auth/phone-number/<pk>/`` (v1)."""
