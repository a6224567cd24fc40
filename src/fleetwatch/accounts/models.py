"""Users (people and source systems alike), their phone numbers and login tokens."""

from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """One table for people and machines: a user with a ``source_system`` is a source system."""

    @property
    def is_source_system(self) -> bool:
        return hasattr(self, "source_system")
