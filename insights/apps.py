from django.apps import AppConfig


def _on_logout(sender, request, user, **kwargs):
    """Logging out closes that session's dashboard sockets (they would otherwise keep pushing)."""
    from insights.services import dashboard_session_end

    session = getattr(request, "session", None)
    dashboard_session_end(session_key=getattr(session, "session_key", None))


def _on_events_stored(sender, events, **kwargs):
    """Inside the ingest transaction: keep derived metrics in step (events must not import insights)."""
    from insights.services import analytics_apply_events

    analytics_apply_events(events=events)


def _on_customer_age_changing(sender, customer, age, **kwargs) -> bool:
    """Traits changed a customer's age: queue the move of their history between age groups."""
    from insights.moves.services import history_age_queue

    history_age_queue(customer_pk=customer.pk, age=age)
    return True


def _on_identity_linked(sender, source_pk, target_pk, trusted=True, **kwargs) -> None:
    """An identify or alias linked two customers: the source's id names the target from now on, and
    the move of its history is queued."""
    from insights.moves.services import history_link

    history_link(source_pk=source_pk, target_pk=target_pk, trusted=trusted)


def _on_customer_history_queued(sender, **kwargs) -> None:
    """The writes that queued history moves are committed: the small ones now, the rest in the background."""
    from insights.moves.services import history_moves_settle

    history_moves_settle()


def _on_product_category_changing(sender, product_pk, category, **kwargs) -> bool:
    """The catalogue changed a product's category: move the product's history with it."""
    from insights.recategorise import product_category_request

    product_category_request(product_pk=product_pk, category=category)
    return True


def _on_derivation_wanted(sender, progress=None, **kwargs) -> int:
    """A bulk load is stored: derive what it queued before its command returns (the events queued)."""
    from insights.catch_up import derivation_catch_up

    return derivation_catch_up(progress=progress)


def _on_events_deleted(sender, **kwargs):
    from insights.rebuild import analytics_rebuild

    analytics_rebuild()


class InsightsConfig(AppConfig):
    name = "insights"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from customers.signals import customer_age_changing, customer_history_queued
        from events.signals import derivation_wanted, events_deleted, events_stored, identity_linked
        from products.signals import product_category_changing

        user_logged_out.connect(_on_logout, dispatch_uid="insights.close_dashboard_sockets")
        events_stored.connect(_on_events_stored, dispatch_uid="insights.apply_events")
        events_deleted.connect(_on_events_deleted, dispatch_uid="insights.rebuild_after_delete")
        derivation_wanted.connect(_on_derivation_wanted, dispatch_uid="insights.derivation_catch_up")
        customer_age_changing.connect(_on_customer_age_changing, dispatch_uid="insights.history_age_queue")
        identity_linked.connect(_on_identity_linked, dispatch_uid="insights.history_link")
        customer_history_queued.connect(_on_customer_history_queued, dispatch_uid="insights.history_moves_settle")
        product_category_changing.connect(_on_product_category_changing, dispatch_uid="insights.recategorise")
