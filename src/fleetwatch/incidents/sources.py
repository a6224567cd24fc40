"""Creating source systems: the source, its type if asked, and its machine user."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction

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
    base = username or name
    candidate, n = base, 1
    while users.filter(username=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    with transaction.atomic():
        user = users.create_user(username=candidate, password=None)
        return SourceSystem.objects.create(
            name=name, type=source_type, user=user, base_url=base_url
        )
