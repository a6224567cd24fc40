"""Path converters: an id in a URL is a positive signed 64-bit integer, or no route at all.

Django's ``<int:...>`` takes any number of digits; ``incidents/99999999999999999999/`` then
reached the database, which cannot compare a bigint column with it: OverflowError (a 500) on
SQLite, "out of range" (a 503) on PostgreSQL. ``<id:...>`` matches only what a bigint holds,
so a larger number is a 404 like any other id that names nothing.
"""

from django.urls import register_converter

from fleetwatch.api.validation import MAX_ID


class IdConverter:
    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValueError("beyond a 64-bit id")  # Django: the route does not match
        return number

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")
