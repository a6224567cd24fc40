"""Where token keys rest: the SQLite file (which holds the DRF token keys) and its directory are
created private, like the secret key (README, "Tokens")."""

import os
import runpy
import sqlite3
import stat
from pathlib import Path

import pytest

import fleetwatch.settings

SETTINGS = fleetwatch.settings.__file__


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def fresh_settings(monkeypatch, tmp_path):
    """``load(data_dir)``: run settings.py afresh (not the loaded module) for a new data dir,
    under the common umask 022 that made files world-readable."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("FLEETWATCH_SECRET_KEY", raising=False)
    old_umask = os.umask(0o022)

    def load(data_dir: Path) -> dict:
        monkeypatch.setenv("FLEETWATCH_DATA_DIR", str(data_dir))
        return runpy.run_path(SETTINGS)

    yield load
    os.umask(old_umask)


def test_a_new_data_dir_and_database_are_private(fresh_settings, tmp_path):
    data = tmp_path / "deep" / "var"
    loaded = fresh_settings(data)
    database = Path(loaded["DATABASES"]["default"]["NAME"])
    assert database.parent == data
    assert mode(data) == 0o700
    assert mode(database) == 0o600
    assert mode(data / "secret_key") == 0o600


def test_sqlite_and_its_wal_files_stay_private_once_written(fresh_settings, tmp_path):
    database = Path(fresh_settings(tmp_path / "var")["DATABASES"]["default"]["NAME"])
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE t (key TEXT)")
    connection.execute("INSERT INTO t VALUES ('secret')")
    connection.commit()
    try:
        for path in [database, Path(f"{database}-wal"), Path(f"{database}-shm")]:
            assert path.exists() and mode(path) == 0o600, path
    finally:
        connection.close()


def test_an_existing_database_is_kept(fresh_settings, tmp_path):
    data = tmp_path / "var"
    data.mkdir()
    database = data / "fleetwatch.sqlite3"
    connection = sqlite3.connect(database)
    connection.execute("CREATE TABLE t (key TEXT)")
    connection.commit()
    connection.close()
    fresh_settings(data)
    assert sqlite3.connect(database).execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_an_existing_data_dir_keeps_its_mode(fresh_settings, tmp_path):
    """One the operator made (perhaps shared on purpose) is theirs to set."""
    data = tmp_path / "shared"
    data.mkdir(mode=0o750)
    data.chmod(0o750)
    fresh_settings(data)
    assert mode(data) == 0o750
    assert mode(data / "fleetwatch.sqlite3") == 0o600
