"""The queue of history moves (see ``insights.moves``)."""

from __future__ import annotations

from django.db import models


class HistoryMove(models.Model):
    """One move of a customer's history, queued by an identify, an alias or an age change and made
    in steps by ``insights.moves.services`` (oldest first; a move waits for earlier ones that name
    one of its customers).

    - ``merge``: every event of ``customer`` (the linked id: an anonymous visitor, a previous id)
      becomes ``target``'s; ``customer``'s sessions and per-customer rows go.
    - ``age``: ``customer`` gets ``age``; when that changes their age group, every contribution of
      their history moves from the old group to the new one. The first step switches the customer
      (new events count in the new group from then on) and notes the last event counted in the old
      group (``boundary``); the following steps move the older events in (time, id) order
      (``cursor_at``, ``cursor_id``) and the sessions still stored in another group.
    """

    class Kind(models.TextChoices):
        MERGE = "merge", "Identity merge"
        AGE = "age", "Age change"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    customer_id = models.BigIntegerField(help_text="merge: the customer whose history moves; age: the customer.")
    target_id = models.BigIntegerField(null=True, blank=True, help_text="merge: who the history goes to.")
    age = models.PositiveSmallIntegerField(null=True, blank=True, help_text="age: the new age (blank: unknown).")
    from_group = models.CharField(max_length=8, blank=True, default="")
    boundary = models.BigIntegerField(null=True, blank=True)
    cursor_at = models.DateTimeField(null=True, blank=True)
    cursor_id = models.BigIntegerField(default=0)
    session_cursor_at = models.DateTimeField(null=True, blank=True)
    session_cursor_id = models.BigIntegerField(default=0)
    events = models.PositiveIntegerField(default=0, help_text="Events moved so far.")
    sessions = models.PositiveIntegerField(default=0, help_text="Sessions moved (or taken out) so far.")
    steps = models.PositiveIntegerField(default=0)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["id"], condition=models.Q(finished_at__isnull=True),
                                name="history_move_open_idx")]

    def __str__(self) -> str:
        what = f"customer {self.customer_id} → {self.target_id}" if self.kind == self.Kind.MERGE else (
            f"customer {self.customer_id} age {self.age}")
        return f"{self.get_kind_display()}: {what}"
