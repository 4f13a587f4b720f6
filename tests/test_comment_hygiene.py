"""Comments speak of the code: no product file points to a design document outside the repository
or carries the history of how it came to be. Where a definition is needed, a comment links a page of
docs/ (docs/metrics.md, docs/money.md, ...) or ARCHITECTURE.md instead.

The product tree is every file git knows (tracked or new, not ignored) except tests/, docs/,
README.md and CHANGELOG.md.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = re.compile(r"DESIGN §|[Ii]ssue [0-9]|[Rr]ound [0-9]")
EXCLUDED_DIRS = ("tests/", "docs/")
EXCLUDED_FILES = {"README.md", "CHANGELOG.md"}


def _product_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    return sorted(
        path for path in set(listed)
        if not path.startswith(EXCLUDED_DIRS) and path not in EXCLUDED_FILES and (ROOT / path).is_file()
    )


def _hits(path: str) -> list[str]:
    try:
        text = (ROOT / path).read_text(encoding="utf-8")
    except UnicodeDecodeError:  # images and other binary files hold no comments
        return []
    return [f"{path}:{number}: {line.strip()}" for number, line in enumerate(text.splitlines(), 1)
            if FORBIDDEN.search(line)]


def test_the_product_tree_is_listed():
    files = _product_files()
    assert "insights/derivation.py" in files and "ARCHITECTURE.md" in files
    assert not any(path.startswith("tests/") for path in files)


def test_the_pattern_finds_what_it_must():
    for offending in ("# DESIGN §4 Money", "(issue 13)", "Issue 12: x", "round 2:", "Round 3"):
        assert FORBIDDEN.search(offending), offending
    for fine in ("the issue of a refund", "rounded to 2 places", "a round trip"):
        assert not FORBIDDEN.search(fine), fine


def test_no_design_or_history_references_in_product_code():
    hits = [hit for path in _product_files() for hit in _hits(path)]
    assert not hits, "comments should link docs/ instead of:\n" + "\n".join(hits)
