import os
from pathlib import Path

from django.core.management.base import BaseCommand

from accounts.services import user_create_demo_users

HEADER = "Demo logins ({url}):"


class Command(BaseCommand):
    help = (
        "Create one demo user per role (viewer, analyst, admin). New passwords are printed once; "
        "existing users keep theirs unless --reset is given. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="give existing demo users new passwords")
        parser.add_argument("--write", metavar="FILE", help="also write the new logins to FILE (mode 600)")
        parser.add_argument("--url", default="http://127.0.0.1:8000/",
                            help="the site's address, named at the top of FILE (scripts/run.sh passes HOST and PORT)")

    def handle(self, *args, reset: bool, write: str | None, url: str, **options):
        rows = user_create_demo_users(reset=reset)
        lines = []
        for username, role, password in rows:
            if password is None:
                self.stdout.write(f"  {username:<8} role={role:<8} (exists; password unchanged)")
            else:
                line = f"  {username:<8} role={role:<8} password={password}"
                lines.append(line)
                self.stdout.write(self.style.SUCCESS(line))
        if write:
            _write_logins(Path(write), HEADER.format(url=url), lines)


def _write_logins(path: Path, header: str, lines: list[str]) -> None:
    """New passwords replace the file; with none (users kept theirs), a file already there keeps its
    logins and only its first line names the address the site runs at now."""
    if not lines:
        if not path.exists():
            return
        lines = path.read_text().splitlines()[1:]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(header + "\n" + "\n".join(lines) + "\n")
