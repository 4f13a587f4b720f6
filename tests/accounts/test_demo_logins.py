"""`.local/demo-logins.txt` names the address the site really runs at (HOST and PORT of `make run`)."""

import re
import stat
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_the_logins_file_names_the_given_address(tmp_path):
    path = tmp_path / "demo-logins.txt"
    call_command("create_demo_users", write=str(path), url="http://127.0.0.1:8420/", stdout=StringIO())
    text = path.read_text()
    assert text.splitlines()[0] == "Demo logins (http://127.0.0.1:8420/):"
    assert "8000" not in text
    assert text.count("password=") == 3
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.django_db
def test_a_later_run_on_another_port_keeps_the_passwords_and_names_the_new_address(tmp_path):
    path = tmp_path / "demo-logins.txt"
    call_command("create_demo_users", write=str(path), url="http://127.0.0.1:8000/", stdout=StringIO())
    logins = path.read_text().splitlines()[1:]
    call_command("create_demo_users", write=str(path), url="http://0.0.0.0:8420/", stdout=StringIO())
    lines = path.read_text().splitlines()
    assert lines[0] == "Demo logins (http://0.0.0.0:8420/):"
    assert lines[1:] == logins and len(logins) == 3


@pytest.mark.django_db
def test_no_file_is_made_when_there_are_no_new_passwords_to_write(tmp_path):
    call_command("create_demo_users", stdout=StringIO())
    path = tmp_path / "demo-logins.txt"
    call_command("create_demo_users", write=str(path), url="http://127.0.0.1:8420/", stdout=StringIO())
    assert not path.exists()


def test_make_run_passes_its_host_and_port_to_the_logins_file():
    script = (ROOT / "scripts" / "run.sh").read_text()
    assert re.search(r'^URL="http://\$HOST:\$PORT/"$', script, re.M)
    assert re.search(r'create_demo_users --write \.local/demo-logins\.txt --url "\$URL"', script)
