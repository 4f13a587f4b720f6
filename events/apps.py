from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"

    def ready(self) -> None:
        from events.connections.services import webhooks_replay_on_rates
        from events.signals import rates_imported

        rates_imported.connect(webhooks_replay_on_rates, dispatch_uid="connections-replay-waiting")
