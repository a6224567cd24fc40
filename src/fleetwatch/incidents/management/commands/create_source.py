"""``fleetwatch create_source NAME --type TYPE``: a source system, its user and its token."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from fleetwatch.accounts.models import replace_drf_token
from fleetwatch.incidents.sources import create_source


class Command(BaseCommand):
    help = (
        "Create a source system (and its source type if new) with its own user, and print "
        "that user's API token: what a glue service or connector authenticates with."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--type", required=True, help="source type name, e.g. nav or zino")
        parser.add_argument("--username", help="the source user's name (default: NAME)")
        parser.add_argument("--base-url", default="", help="joined with relative details_url")
        parser.add_argument(
            "--heartbeat-frequency",
            type=int,
            default=None,
            help="seconds (60-86400) within which the source promises to be heard from; "
            "a 'missing heartbeat' incident opens when it is silent for longer",
        )

    def handle(self, name, type, username=None, base_url="", **options):
        frequency = options.get("heartbeat_frequency")
        if frequency is not None and not 60 <= frequency <= 86400:
            raise CommandError("--heartbeat-frequency must be between 60 and 86400 seconds")
        try:
            source = create_source(name, type, username, base_url, create_type=True)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        if frequency is not None:
            source.heartbeat_frequency = frequency
            source.save(update_fields=["heartbeat_frequency"])
        token = replace_drf_token(source.user)
        self.stderr.write(
            f"Created source {source.name!r} (type {source.type_id}, pk {source.pk}) "
            f"with user {source.user.username!r}. Its token:"
        )
        self.stdout.write(token.key)
