"""Schedule nightly retraining and minutely scoring of open carts (django-celery-beat, editable in admin).

Idempotent: existing tasks of these names are left as they are (an admin may have edited them).
"""

from django.db import migrations

RETRAIN = "ml: nightly retrain"
SCORE = "ml: score open carts"


def create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if not PeriodicTask.objects.filter(name=RETRAIN).exists():
        nightly, _ = CrontabSchedule.objects.get_or_create(
            minute="30", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC")
        PeriodicTask.objects.create(
            name=RETRAIN, task="ml.tasks.retrain_model_task", crontab=nightly, enabled=True,
            description="Retrain the purchase-likelihood model; activated only if not worse than the active one.")
    if not PeriodicTask.objects.filter(name=SCORE).exists():
        every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
        PeriodicTask.objects.create(
            name=SCORE, task="ml.tasks.score_open_carts_task", interval=every_minute, enabled=True,
            description="Score open carts with the active model (carts at risk, likely buyers).")
    # Tell a running beat that the schedule changed.
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[RETRAIN, SCORE]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ml", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
