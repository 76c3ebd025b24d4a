"""Load or update managed object types from an IDM managed.json file."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from managed.schema import DEFAULT_CONFIG_PATH, ManagedConfigError
from managed.services import managed_config_load


class Command(BaseCommand):
    help = (
        "Load managed object types from a managed.json file (default: the shipped "
        "user, role and assignment types and their alpha/bravo realm variants). "
        "Idempotent: unchanged types are left alone."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="path to an IDM managed.json")

    def handle(self, *args, **options):
        path = Path(options["file"] or DEFAULT_CONFIG_PATH)
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}") from error
        except ValueError as error:
            raise CommandError(f"{path} is not valid JSON: {error}") from error
        try:
            lines = managed_config_load(config)
        except ManagedConfigError as error:
            raise CommandError(f"{path}: {error}") from error
        # --verbosity 0 (what the test fixtures and scripts pass) means quiet.
        if options["verbosity"] >= 1:
            for line in lines:
                self.stdout.write(line)
