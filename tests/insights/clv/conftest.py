from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from insights.services import analytics_process_pending
from tests.insights.clv.cdnow import SAMPLE


@pytest.fixture
def cdnow_imported(db):
    """The CDNOW sample imported through ``import_events`` (transactions preset) and derived."""
    out = StringIO()
    call_command("import_events", str(SAMPLE), "--preset", "transactions", "--date-format", "%Y%m%d",
                 "--no-broadcast", stdout=out)
    assert "read 6919, stored 6919" in out.getvalue()
    analytics_process_pending()


@pytest.fixture
def cdnow_recent(db, tmp_path):
    """The CDNOW sample moved 27 years later (1997 → 2024; the pages' filters start in 2000), imported."""
    lines = SAMPLE.read_text().splitlines()
    moved = [lines[0]] + [",".join([c, str(int(d[:4]) + 27) + d[4:], q, a])
                          for c, d, q, a in (line.split(",") for line in lines[1:])]
    path = tmp_path / "cdnow_recent.csv"
    path.write_text("\n".join(moved) + "\n")
    call_command("import_events", str(path), "--preset", "transactions", "--date-format", "%Y%m%d",
                 "--no-broadcast", stdout=StringIO())
    analytics_process_pending()
