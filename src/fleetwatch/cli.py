"""The ``fleetwatch`` console command.

``fleetwatch emulate ...`` runs the vendor emulators, which never import Django; every other
sub-command is a Django management command (``fleetwatch migrate``, ``fleetwatch create_source``,
``fleetwatch worker`` ...).
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    if len(argv) > 1 and argv[1] == "emulate":
        from fleetwatch.emulators.cli import main as emulate

        raise SystemExit(emulate(argv[2:]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
