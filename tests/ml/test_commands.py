"""manage.py train_model."""

import pytest
from django.core.management import CommandError, call_command

from ml.models import ModelVersion


def test_train_model_prints_the_metrics_table_and_records_a_version(history, capsys):
    call_command("train_model", "--since", "2024-12-15", "--min-carts", "300")
    out = capsys.readouterr()
    assert "chosen:" in out.out and "logistic regression" in out.out and "ROC AUC" in out.out and "log loss" in out.out
    assert "activated" in out.out
    assert "reading events" in out.err  # progress
    version = ModelVersion.objects.get()
    assert version.is_active and str(version.since) == "2024-12-15" and version.trigger == "command"


def test_train_model_fails_clearly_with_too_little_data(db, model_dir):
    with pytest.raises(CommandError, match="Not enough data to train: 0 carts"):
        call_command("train_model", "--min-carts", "10")
    assert not ModelVersion.objects.exists()


def test_train_model_rejects_a_bad_date(db):
    with pytest.raises(CommandError):
        call_command("train_model", "--since", "yesterday")


def test_train_model_if_none_active_trains_once(history, capsys):
    call_command("train_model", "--if-none-active", "--since", "2024-12-15", "--min-carts", "300")
    assert ModelVersion.objects.filter(is_active=True).count() == 1
    call_command("train_model", "--if-none-active")  # make run again: the active model is kept
    assert ModelVersion.objects.count() == 1
    assert "active already" in capsys.readouterr().out
