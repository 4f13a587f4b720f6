"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from analytics_site.routing import websocket_application  # noqa: E402
from events.websocket_server import configure_daphne  # noqa: E402

configure_daphne()  # close frames with a code and reason instead of dropped connections

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application})
