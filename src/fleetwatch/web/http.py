"""The request type of the console's views: behind ``login_required`` the user is a User."""

from django.http import HttpRequest

from fleetwatch.accounts.models import User


class AuthedRequest(HttpRequest):
    user: User  # narrowed: every view using it requires a login
