"""Creating source systems: the source, its type if asked, and its machine user."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction

from fleetwatch.incidents import limits
from fleetwatch.incidents.models import SourceSystem, SourceSystemType


def create_source(
    name: str,
    type_name: str,
    username: str | None = None,
    base_url: str = "",
    *,
    create_type: bool = False,
) -> SourceSystem:
    """A source system and its machine user (a taken username gets a numbered suffix)."""
    type_name = type_name.lower()
    errors = {
        field: [problem]
        for field, value, limit in (
            ("name", name, limits.SOURCE_NAME_MAX_LENGTH),
            ("type", type_name, limits.SOURCE_TYPE_NAME_MAX_LENGTH),
            ("username", username or "", limits.USERNAME_MAX_LENGTH),
        )
        if (problem := limits.too_long(value, limit))
    }
    if errors:
        raise DjangoValidationError(errors)
    if create_type:
        source_type, _ = SourceSystemType.objects.get_or_create(name=type_name)
    else:
        try:
            source_type = SourceSystemType.objects.get(name=type_name)
        except SourceSystemType.DoesNotExist:
            raise DjangoValidationError(
                {
                    "type": [
                        f'Select a valid choice. "{type_name}" is not one of the available '
                        "source types."
                    ]
                }
            ) from None
    if SourceSystem.objects.filter(name=name, type=source_type).exists():
        raise DjangoValidationError(
            {"name": [f"A source named {name!r} of type {type_name!r} already exists."]}
        )
    users = get_user_model().objects
    # A name may be longer than a username can be: the generated one is cut to fit.
    base = (username or name)[: limits.USERNAME_MAX_LENGTH]
    candidate, n = base, 1
    while users.filter(username=candidate).exists():
        n += 1
        suffix = f"-{n}"
        candidate = f"{base[: limits.USERNAME_MAX_LENGTH - len(suffix)]}{suffix}"
    with transaction.atomic():
        user = users.create_user(username=candidate, password=None)
        return SourceSystem.objects.create(
            name=name, type=source_type, user=user, base_url=base_url
        )
