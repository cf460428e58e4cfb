"""Settings: defaults, env overrides, unknown keys and located errors (issue 2, item 6)."""

from pathlib import Path

import pytest

from hazwatch.errors import ConfigError
from hazwatch.settings import Settings, field_paths, load_settings, locate_key, unknown_env_vars


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("HAZWATCH_"):
            monkeypatch.delenv(key)


def test_defaults_are_the_embedded_cluster() -> None:
    s = load_settings()
    assert s.database_url is None
    assert s.db.port == 55432 and s.db.host == "127.0.0.1"
    assert s.path(s.db.data_dir) == s.home / "var/db/data"


def test_env_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "hazwatch.toml"
    cfg.write_text('[db]\nport = 6000\nname = "plant"\n[web]\nport = 9000\n')
    monkeypatch.setenv("HAZWATCH_DB__PORT", "6100")
    s = load_settings(cfg)
    assert (s.db.port, s.db.name, s.web.port) == (6100, "plant", 9000)


def test_arguments_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAZWATCH_DB__PORT", "6100")
    assert load_settings(db={"port": 6200}).db.port == 6200


def test_unknown_env_var_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAZWATCH_DB__PROT", "6100")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "HAZWATCH_DB__PROT: unknown setting" in str(err.value)
    assert str(err.value).count("HAZWATCH_DB__PROT") == 1


def test_bad_env_value_names_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAZWATCH_DB__PORT", "fifty")
    with pytest.raises(ConfigError, match=r"environment HAZWATCH_DB__PORT: db\.port: .*integer"):
        load_settings()


def test_bad_file_value_names_file_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "hazwatch.toml"
    cfg.write_text('# plant settings\n[site]\nname = "x"\n\n[db]\nname = "p"\nport = 80\n')
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert f"{cfg}:7: db.port: Input should be greater than or equal to 1024" in str(err.value)


def test_unknown_file_key_names_line(tmp_path: Path) -> None:
    cfg = tmp_path / "hazwatch.toml"
    cfg.write_text("[db]\nport = 6000\nshared_bufers = '1GB'\n")
    with pytest.raises(ConfigError, match=r":3: db\.shared_bufers: Extra inputs are not permitted"):
        load_settings(cfg)


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    cfg = tmp_path / "hazwatch.toml"
    cfg.write_text("[db\nport = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(cfg)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")


def test_database_url_must_be_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAZWATCH_DATABASE_URL", "mysql://x@y/z")
    with pytest.raises(ConfigError, match="HAZWATCH_DATABASE_URL: database_url"):
        load_settings()


def test_locate_key_pure() -> None:
    text = "top = 1\n[db]\nport = 2 # comment\n[log]\nlevel = 'INFO'\n"
    assert locate_key(text, ("top",)) == 1
    assert locate_key(text, ("db", "port")) == 3
    assert locate_key(text, ("log", "level")) == 5
    assert locate_key(text, ("log", "missing")) == 4  # falls back to the section header
    assert locate_key(text, ("nowhere",)) is None


def test_unknown_env_vars_pure() -> None:
    env = {
        "HAZWATCH_DB__PORT": "1",
        "HAZWATCH_DATABASE_URL": "postgresql://x",
        "HAZWATCH_CONFIG": "f",
        "HAZWATCH_WEB__PROT": "1",
        "PATH": "/bin",
    }
    assert unknown_env_vars(env) == ["HAZWATCH_WEB__PROT"]
    assert ("db", "port") in field_paths(Settings)
