"""WebSocket routes.

Browser sockets (session-authenticated, e.g. the live dashboard) go through the origin check and
the session middleware. Ingest sockets serve key-authenticated machine clients that usually send
no Origin header, so they skip the origin check; they never read cookies.
"""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator

from events.routing import websocket_urlpatterns as machine_urlpatterns
from insights.routing import websocket_urlpatterns as browser_urlpatterns


class SplitRouter:
    """Machine paths go to their own router; everything else through the browser stack."""

    def __init__(self) -> None:
        self.machine = URLRouter(machine_urlpatterns)
        self.browser = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(browser_urlpatterns)))
        self.machine_prefixes = tuple(str(p.pattern) for p in machine_urlpatterns)

    async def __call__(self, scope, receive, send):
        if self.machine_prefixes and scope["path"].lstrip("/").startswith(self.machine_prefixes):
            return await self.machine(scope, receive, send)
        return await self.browser(scope, receive, send)


websocket_application = SplitRouter()
