"""Logging filters named in settings.LOGGING."""

from __future__ import annotations

import logging


class DropKnownNoise(logging.Filter):
    """Keeps off the console (never out of the log files) warnings that ask nothing of a person:
    kombu's "No hostname was supplied" for the ``filesystem://`` broker (the embedded default, whose URL
    has no host by design), and scikit-learn's note, once a minute from the cart-scoring task in a
    Celery child process, that it runs the forest's predictions on one core there."""

    NOISE = (
        ("kombu.connection", "No hostname was supplied"),
        ("py.warnings", "Loky-backed parallel loops cannot be called in a multiprocessing"),
    )

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage() if record.name == "py.warnings" else str(record.msg)
        return not any(record.name == name and start in message for name, start in self.NOISE)
