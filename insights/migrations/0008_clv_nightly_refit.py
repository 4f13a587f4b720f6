"""Schedule the nightly CLV refit (django-celery-beat, editable in admin). Idempotent: an existing task
of this name is left as it is (an admin may have edited it)."""

from django.db import migrations

REFIT = "insights: nightly CLV refit"


def create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if not PeriodicTask.objects.filter(name=REFIT).exists():
        nightly, _ = CrontabSchedule.objects.get_or_create(
            minute="15", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC")
        PeriodicTask.objects.create(
            name=REFIT, task="insights.tasks.fit_clv_task", crontab=nightly, enabled=True,
            description="Refit BG/NBD + Gamma-Gamma on the orders up to today and store every buyer's predictions.")
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=REFIT).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0007_clv_fit_prediction"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
