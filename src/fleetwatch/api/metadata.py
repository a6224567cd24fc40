"""``OPTIONS`` answers for every view, generic or not.

DRF's ``SimpleMetadata`` describes a view's ``PUT`` by calling ``get_object()`` (which needs a
``queryset``) and its ``POST``/``PUT`` by ``get_serializer()`` (which needs a
``serializer_class``). Most Fleetwatch views have neither — they parse, call a service and
render — so ``OPTIONS`` was a 500 on them. Here the fields are described from the view's
``serializer_class`` when it has one, never by looking up an object, and a view without one
simply has no ``actions``.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.metadata import SimpleMetadata
from rest_framework.request import clone_request


class FleetwatchMetadata(SimpleMetadata):
    def determine_actions(self, request, view) -> dict:
        serializer_class = getattr(view, "serializer_class", None)
        if serializer_class is None:
            return {}
        actions = {}
        for method in {"PUT", "POST"} & set(view.allowed_methods):
            view.request = clone_request(request, method)
            try:
                view.check_permissions(view.request)
            except (exceptions.APIException, PermissionDenied, Http404):
                continue
            finally:
                view.request = request
            actions[method] = self.get_serializer_info(serializer_class())
        return actions
