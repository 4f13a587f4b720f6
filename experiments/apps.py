from django.apps import AppConfig


def _on_exposures_stored(sender, exposures, **kwargs) -> None:
    """Inside the ingest transaction: keep each visitor's first variant."""
    from experiments.services import exposures_record

    exposures_record(exposures=exposures)


def _on_events_stored(sender, events, **kwargs) -> None:
    """Inside the ingest transaction: orders, refunds and cancels of exposed visitors update their outcome."""
    from experiments.services import exposures_follow_money

    exposures_follow_money(events=events)


def _on_identity_linked(sender, source_pk, target_pk, **kwargs) -> None:
    """An anonymous visitor identified: their exposures belong to the customer from now on."""
    from experiments.services import exposures_link

    exposures_link(source_pk=source_pk, target_pk=target_pk)


def _on_events_deleted(sender, **kwargs) -> None:
    from experiments.services import exposures_after_delete

    exposures_after_delete()


def _on_source_saved(sender, instance, update_fields=None, **kwargs) -> None:
    """A source's removal finished (``removed_at`` set): its exposures go too."""
    if instance.removed_at is not None and update_fields is not None and "removed_at" in update_fields:
        from experiments.rebuild import exposures_source_removed

        exposures_source_removed(source_pk=instance.pk)


class ExperimentsConfig(AppConfig):
    name = "experiments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from events.models import Source
        from events.signals import events_deleted, events_stored, exposures_stored, identity_linked
        from experiments.models import Exposure
        from experiments.page_extensions import register
        from experiments.tally import exposure_deleted

        register()

        exposures_stored.connect(_on_exposures_stored, dispatch_uid="experiments.record")
        events_stored.connect(_on_events_stored, dispatch_uid="experiments.follow_money")
        identity_linked.connect(_on_identity_linked, dispatch_uid="experiments.link")
        events_deleted.connect(_on_events_deleted, dispatch_uid="experiments.after_delete")
        post_delete.connect(exposure_deleted, sender=Exposure, dispatch_uid="experiments.sums")
        post_save.connect(_on_source_saved, sender=Source, dispatch_uid="experiments.source_removed")
