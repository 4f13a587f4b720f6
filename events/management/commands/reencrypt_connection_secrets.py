"""manage.py reencrypt_connection_secrets: after a change of SECRET_KEY (the previous key listed in
SECRET_KEY_FALLBACKS), encrypt every store connection's webhook secret under the current key, so the
previous key can then leave SECRET_KEY_FALLBACKS. docs/connections.md"""

from django.core.management.base import BaseCommand, CommandError

from events.connections.services import connection_secrets_reencrypt


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        done, unreadable = connection_secrets_reencrypt()
        self.stdout.write(f"{len(done)} connection secrets re-encrypted under the current SECRET_KEY"
                          + (f": {', '.join(done)}" if done else ""))
        if unreadable:
            raise CommandError(
                f"{len(unreadable)} secrets cannot be decrypted with SECRET_KEY or SECRET_KEY_FALLBACKS: "
                f"{', '.join(unreadable)}. Add the key they were encrypted with to SECRET_KEY_FALLBACKS, or give "
                "each its secret again (create_connection PLATFORM SLUG --rotate).")
