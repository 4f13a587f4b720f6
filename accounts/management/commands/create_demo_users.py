from django.core.management.base import BaseCommand

from accounts.services import user_create_demo_users


class Command(BaseCommand):
    help = (
        "Create one demo user per role (viewer, analyst, admin). New passwords are printed once; "
        "existing users keep theirs unless --reset is given. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="give existing demo users new passwords")
        parser.add_argument("--write", metavar="FILE", help="also write the new logins to FILE (mode 600)")

    def handle(self, *args, reset: bool, write: str | None, **options):
        rows = user_create_demo_users(reset=reset)
        lines = []
        for username, role, password in rows:
            if password is None:
                self.stdout.write(f"  {username:<8} role={role:<8} (exists; password unchanged)")
            else:
                line = f"  {username:<8} role={role:<8} password={password}"
                lines.append(line)
                self.stdout.write(self.style.SUCCESS(line))
        if write and lines:
            import os

            fd = os.open(write, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write("Demo logins (http://127.0.0.1:8000/):\n" + "\n".join(lines) + "\n")
