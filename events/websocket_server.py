"""Two fixes to daphne's WebSocket server (autobahn underneath), applied by ``analytics_site/asgi.py``.

- **A reason instead of a dropped connection.** autobahn's server factory fails a connection by
  dropping TCP (``failByDrop``): a message over daphne's ``--websocket_max_message_size`` (1 MiB by
  default) or a text frame that is not UTF-8 just vanished, the client saw no code and no reason.
  With ``failByDrop`` off it sends a close frame first: 1009 "received WebSocket message size N
  exceeds payload limit of 1048576 octets", 1007 for invalid UTF-8 (RFC 6455 §8.1 requires failing
  the connection there), then closes.
- **Close reasons reach the client.** ASGI's ``websocket.close`` event carries a ``reason``
  (spec 2.3); daphne 4.2 drops it. Here it is sent in the close frame (at most 123 bytes).

Applied only when daphne is the server (its ``daphne.server`` module is loaded: the CLI imports
it, and installs Twisted's asyncio reactor, before loading the application); idempotent.
"""

from __future__ import annotations

import sys
from typing import Any

_APPLIED = "_analytics_options_applied"


def configure_daphne() -> None:
    if "daphne.server" not in sys.modules:
        return
    from daphne import ws_protocol
    factory_class: Any = ws_protocol.WebSocketFactory
    protocol_class: Any = ws_protocol.WebSocketProtocol
    if getattr(factory_class, _APPLIED, False):
        return

    reset_options = factory_class.resetProtocolOptions

    def resetProtocolOptions(self: Any) -> None:  # noqa: N802 - autobahn's name
        reset_options(self)
        self.failByDrop = False

    handle_reply = protocol_class.handle_reply

    def handle_reply_with_reason(self: Any, message: dict[str, Any]) -> None:
        reason = message.get("reason")
        if message.get("type") == "websocket.close" and reason and self.state == self.STATE_OPEN:
            code = message.get("code")
            self.sendClose(code=1000 if code is None else code, reason=str(reason))
            return
        handle_reply(self, message)

    factory_class.resetProtocolOptions = resetProtocolOptions
    protocol_class.handle_reply = handle_reply_with_reason
    setattr(factory_class, _APPLIED, True)
