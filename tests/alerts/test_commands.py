"""manage.py create_alert_rules: one default rule per metric, and nothing changed on a second run."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from alerts.metrics import METRICS
from alerts.models import AlertRule


@pytest.mark.django_db
def test_default_rules_are_one_per_metric_and_a_second_run_keeps_an_edited_rule():
    out = StringIO()
    call_command("create_alert_rules", stdout=out)
    assert out.getvalue().startswith(f"{len(METRICS)} alert rules created, 0 already present")
    rules = {r.metric: r for r in AlertRule.objects.all()}
    assert set(rules) == set(METRICS)
    assert all((r.channel, r.direction, r.sensitivity, r.consecutive_hours, r.min_volume, r.enabled)
               == ("", "both", "medium", 2, 20, True) for r in rules.values())
    AlertRule.objects.filter(metric="orders").update(consecutive_hours=4)
    out = StringIO()
    call_command("create_alert_rules", stdout=out)
    assert out.getvalue().strip() == f"0 alert rules created, {len(METRICS)} already present"
    assert AlertRule.objects.count() == len(METRICS)
    assert AlertRule.objects.get(metric="orders").consecutive_hours == 4
