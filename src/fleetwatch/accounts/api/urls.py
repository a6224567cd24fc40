"""Auth endpoints, included at the root of each API version (``/api/v1/``, ``/api/v2/``)."""

from django.urls import path

import fleetwatch.api.converters  # noqa: F401  (registers <id:...>)
from fleetwatch.accounts.api import views

current_user = path("auth/user/", views.CurrentUserView.as_view(), name="auth-current-user")
user_detail = path("auth/users/<id:pk>/", views.UserDetailView.as_view(), name="auth-user")
token_auth = path("token-auth/", views.ObtainTokenView.as_view(), name="auth-token-auth")

v1_urlpatterns: list = [
    current_user,
    user_detail,
    path("auth/phone-number/", views.PhoneNumberListView.as_view(), name="auth-phone-numbers"),
    path(
        "auth/phone-number/<id:pk>/",
        views.PhoneNumberDetailView.as_view(),
        name="auth-phone-number",
    ),
    token_auth,
]

v2_urlpatterns: list = [
    current_user,
    user_detail,
    path("auth/refresh-token/", views.RefreshTokenView.as_view(), name="auth-refresh-token"),
    path("auth/token/login/", views.LoginView.as_view(), name="auth-token-login"),
    path("auth/token/logout/", views.LogoutView.as_view(), name="auth-token-logout"),
    # No trailing slash, as in Argus (knox's URL).
    path("auth/token/logoutall", views.LogoutAllView.as_view(), name="auth-token-logoutall"),
    token_auth,
]
