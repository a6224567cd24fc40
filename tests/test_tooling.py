"""The project's own rules, checked: the layering bans are in force, references are cited by
relative paths, and `make test-fast` leaves out what starts processes."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUFF = str(Path(sys.executable).with_name("ruff"))


def ruff_bans(path: str, source: str) -> list[str]:
    """The banned-import findings ruff reports for ``source`` as if it were at ``path``."""
    command = [RUFF, "check", "--no-cache", "--select", "TID251", "--output-format", "concise"]
    result = subprocess.run(
        [*command, "--stdin-filename", path, "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    return [line for line in result.stdout.splitlines() if "TID251" in line]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "source", "banned"),
    [
        ("src/fleetwatch/emulators/new.py", "import django\n", True),
        ("src/fleetwatch/emulators/sensaphone/new.py", "from django.conf import settings\n", True),
        ("src/fleetwatch/emulators/new.py", "from fleetwatch.incidents import models\n", True),
        ("src/fleetwatch/emulators/new.py", "from fleetwatch.codecs import sensaphone\n", False),
        ("src/fleetwatch/codecs/new.py", "from django.utils import timezone\n", True),
        ("src/fleetwatch/codecs/new.py", "import fleetwatch.emulators.clock\n", True),
        ("src/fleetwatch/incidents/new.py", "from rest_framework import serializers\n", True),
        ("src/fleetwatch/incidents/new.py", "from fleetwatch.api import validation\n", True),
        ("src/fleetwatch/incidents/new.py", "from fleetwatch.connectors import models\n", True),
        ("src/fleetwatch/incidents/new.py", "import fleetwatch.web.views\n", True),
        ("src/fleetwatch/incidents/new.py", "import fleetwatch.notifications\n", True),
        ("src/fleetwatch/incidents/new.py", "from fleetwatch.incidents.api import views\n", True),
        ("src/fleetwatch/incidents/new.py", "def f():\n    from rest_framework import x\n", True),
        ("src/fleetwatch/incidents/new.py", "from django.db import models\n", False),
        ("src/fleetwatch/incidents/api/new.py", "from rest_framework import serializers\n", False),
        ("src/fleetwatch/connectors/new.py", "from rest_framework import serializers\n", False),
    ],
)
def test_layering_bans(path, source, banned):
    assert bool(ruff_bans(path, source)) is banned


TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".sh", ".yml", ".yaml", ""}


def test_references_are_cited_by_relative_paths():
    """No machine's absolute paths (or paths out of the repository) in code, tests or docs."""
    forbidden = ["/wor" + "k/", "../sha" + "red"]
    places = [ROOT / name for name in ("src", "tests", "docs", "bench", "scripts", ".ci")]
    files = [path for place in places for path in place.rglob("*") if path.is_file()]
    files += [ROOT / "README.md", ROOT / "Makefile", ROOT / "pyproject.toml"]
    offenders = []
    for path in files:
        if path.suffix not in TEXT_SUFFIXES or "__pycache__" in path.parts:
            continue
        text = path.read_text(errors="replace")
        offenders += [f"{path.relative_to(ROOT)}: {bad}" for bad in forbidden if bad in text]
    assert offenders == []


def test_an_unmarked_test_may_not_start_a_subprocess():
    """`make test-fast` promises no subprocesses: the guard in tests/conftest.py refuses them."""
    with pytest.raises(AssertionError, match=r"mark it @pytest.mark.slow"):
        subprocess.run([sys.executable, "-c", "pass"], check=False)


@pytest.mark.slow
def test_a_slow_test_may_start_a_subprocess():
    assert subprocess.run([sys.executable, "-c", "pass"], check=False).returncode == 0
