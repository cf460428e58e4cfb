"""One settings tree for every process.

Precedence, highest first: keyword arguments, ``HAZWATCH_*`` environment variables (nested with
``__``, e.g. ``HAZWATCH_DB__PORT=55433``), the TOML file, defaults. The file is
``$HAZWATCH_CONFIG`` or ``<home>/hazwatch.toml`` when present. Unknown keys are errors, in the
file and in the environment alike, so a typo never silently falls back to a default.

    settings = load_settings()                 # raises ConfigError with located messages
    settings.db.port, settings.database_url
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from hazwatch.errors import ConfigError

ENV_PREFIX = "HAZWATCH_"
#: Environment variables that steer loading itself rather than naming a field.
META_ENV = frozenset({"HAZWATCH_CONFIG"})


def default_home() -> Path:
    """The source checkout when running from one, else ``~/.local/share/hazwatch``."""
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "sql").is_dir():
        return checkout
    return Path.home() / ".local" / "share" / "hazwatch"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ClusterSettings(_Section):
    """The embedded PostgreSQL + TimescaleDB cluster that ``hazwatch db up`` runs."""

    data_dir: Path = Field(Path("var/db/data"), description="relative paths are under home")
    host: Literal["127.0.0.1", "localhost", "::1"] = "127.0.0.1"
    # Not 5432: a machine may already run a system PostgreSQL there.
    port: int = Field(55432, ge=1024, le=65535)
    name: str = Field("hazwatch", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    user: str = Field("hazwatch", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    shared_buffers: str = Field("1GB", pattern=r"^\d+(kB|MB|GB)$")
    start_timeout_s: int = Field(60, ge=5, le=600)


class PoolSettings(_Section):
    min_size: int = Field(1, ge=0, le=100)
    max_size: int = Field(10, ge=1, le=200)
    timeout_s: float = Field(30.0, gt=0)


class TimescaleBuildSettings(_Section):
    """Where the TimescaleDB source comes from when the extension is missing."""

    source_suite: str = "trixie"
    mirror: str = "http://deb.debian.org/debian"
    cache_dir: Path = Path("var/cache")


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_lines: bool = False


class SiteSettings(_Section):
    """Which level of the hierarchy this instance serves (R9)."""

    level: Literal["enterprise", "park", "county", "city", "province"] = "enterprise"
    name: str = "hazwatch"
    #: At an enterprise: its id, code or exact name; collectors file new tags under it.
    enterprise: str | None = None


class IngestSettings(_Section):
    """The writer every collector goes through (batched COPY, store-and-forward)."""

    spool_dir: Path = Path("var/spool")
    batch_rows: int = Field(10_000, ge=1, le=1_000_000)
    flush_interval_s: float = Field(0.5, gt=0, le=60)
    #: Back-pressure: producers block once this many rows wait in memory.
    max_queue_rows: int = Field(200_000, ge=1000)


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8050, ge=1, le=65535)
    #: Session signing key; by default one is generated once into ``secret_key_file``.
    secret_key: SecretStr | None = None
    secret_key_file: Path = Path("var/web/secret_key")
    #: Set the cookies' Secure flag (when served behind HTTPS).
    secure_cookies: bool = False


class UpstreamSettings(_Section):
    """Where this instance pushes its alarms and summaries (R9): the next level up.

    [upstream]
    url = "https://platform.example.gov.cn"     # the upper instance's hazwatch serve
    token_file = "var/exchange/upstream_token"  # an ``exchange`` token issued up there

    Left without ``url``, nothing is pushed and nothing queues up for pushing.
    """

    url: str | None = Field(None, pattern=r"^https?://[^\s/]+(/.*)?$")
    token: SecretStr | None = None
    token_file: Path = Path("var/exchange/upstream_token")
    #: This instance's Ed25519 signing key, generated on first use.
    key_file: Path = Path("var/exchange/signing_key.pem")
    batch_items: int = Field(500, ge=1, le=10_000)
    push_every_s: float = Field(5.0, gt=0, le=3600)
    timeout_s: float = Field(15.0, gt=0, le=300)


class CollectorSettings(_Section):
    """One collector process of ``hazwatch run``: ``hazwatch collect KIND --option value …``.

    [[collectors]]
    name = "dcs-unit1"
    kind = "opcua"
    options = { endpoint = "opc.tcp://10.1.2.3:4840", map = "/etc/hazwatch/unit1.csv" }
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")
    kind: Literal["opcua", "modbus", "mqtt"]
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)


class DemoSettings(_Section):
    """The demo plant (``hazwatch simulate``) and where ``make demo`` finds it."""

    opcua_port: int = Field(48400, ge=1024, le=65535)
    #: The gateways listen on this port and the next.
    modbus_port: int = Field(15020, ge=1024, le=65534)
    mqtt_port: int = Field(18830, ge=1024, le=65535)
    seed: int = 1
    #: Plant time per wall-clock second (1 = real time).
    speedup: float = Field(1.0, gt=0, le=100)
    enterprise: str = "晋安示范化工有限公司（演示）"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

    home: Path = Field(default_factory=default_home)
    #: An external TimescaleDB; when set, the embedded cluster is not used at all.
    database_url: str | None = Field(None, pattern=r"^postgres(ql)?://")
    db: ClusterSettings = ClusterSettings()
    pool: PoolSettings = PoolSettings()
    timescaledb: TimescaleBuildSettings = TimescaleBuildSettings()
    log: LogSettings = LogSettings()
    site: SiteSettings = SiteSettings()
    web: WebSettings = WebSettings()
    ingest: IngestSettings = IngestSettings()
    demo: DemoSettings = DemoSettings()
    upstream: UpstreamSettings = UpstreamSettings()
    #: The production route: every source as a collector process run by ``hazwatch run``.
    collectors: list[CollectorSettings] = Field(default_factory=list)
    #: Per-relation retention overrides, e.g. {"ts.sample": "3 years"} (see hazwatch.retention).
    retention: dict[str, str] = Field(default_factory=dict)

    @field_validator("retention")
    @classmethod
    def _legal_retention(cls, value: dict[str, str]) -> dict[str, str]:
        from hazwatch.retention import effective_policies

        try:
            effective_policies(value)
        except ConfigError as exc:
            raise ValueError(str(exc).replace("invalid retention settings:\n  ", "")) from None
        return value

    def path(self, p: Path) -> Path:
        """Resolve a configured path against ``home``."""
        return p if p.is_absolute() else self.home / p

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileSource(settings_cls))


#: The parsed settings file for the load in progress (see load_settings).
_FILE_DATA: ContextVar[Mapping[str, Any] | None] = ContextVar("hazwatch_settings", default=None)


class _FileSource(PydanticBaseSettingsSource):
    """The TOML file, below the environment in precedence."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return (_FILE_DATA.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_DATA.get() or {})


def field_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every leaf field path of a settings model, e.g. ``("db", "port")``."""
    paths: set[tuple[str, ...]] = set()
    for name, info in model.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            paths |= field_paths(ann, (*prefix, name))
        else:
            paths.add((*prefix, name))
    return paths


def unknown_env_vars(environ: Mapping[str, str]) -> list[str]:
    """``HAZWATCH_*`` variables that name no field (pydantic-settings ignores them silently).

    >>> unknown_env_vars({"HAZWATCH_DB__PORT": "1", "HAZWATCH_DB__PROT": "1"})
    ['HAZWATCH_DB__PROT']
    """
    known = {ENV_PREFIX + "__".join(p).upper() for p in field_paths(Settings)}
    sections = {ENV_PREFIX + n.upper() for n in Settings.model_fields}
    return sorted(
        k
        for k in environ
        if k.upper().startswith(ENV_PREFIX)
        and k.upper() not in known
        and k.upper() not in sections
        and k.upper() not in META_ENV
    )


def locate_key(toml_text: str, loc: tuple[str | int, ...]) -> int | None:
    """1-based line of the key at ``loc`` in a TOML document, or of its section header.

    Handles ``[section]`` tables and ``key = value`` lines, which is what hazwatch.toml uses.

    >>> locate_key("[db]\\nport = 1\\n", ("db", "port"))
    2
    """
    section: tuple[str, ...] = ()
    header_line: int | None = None
    want = tuple(str(p) for p in loc)
    for number, raw in enumerate(toml_text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            section = tuple(part.strip().strip('"') for part in line.strip("[]").split("."))
            if section == want[: len(section)] and header_line is None:
                header_line = number
            continue
        if "=" in line:
            key = tuple(part.strip().strip('"') for part in line.split("=", 1)[0].split("."))
            if (*section, *key) == want[: len(section) + len(key)]:
                return number
    return header_line


def config_file(environ: Mapping[str, str] | None = None) -> Path | None:
    """The settings file in force: ``$HAZWATCH_CONFIG``, else ``<home>/hazwatch.toml`` if any."""
    env = os.environ if environ is None else environ
    if env.get("HAZWATCH_CONFIG"):
        return Path(env["HAZWATCH_CONFIG"])
    candidate = default_home() / "hazwatch.toml"
    return candidate if candidate.is_file() else None


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Load and validate; raise ConfigError naming each bad field, its source and line.

    ``overrides`` beat everything (tests use them to point at a scratch cluster).
    """
    env = os.environ
    path = path or config_file(env)
    text = ""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except FileNotFoundError as exc:
            raise ConfigError(f"settings file {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    unknown = unknown_env_vars(env)
    problems = [f"environment {k}: unknown setting (no such field)" for k in unknown]
    token = _FILE_DATA.set(data)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            dotted = ".".join(str(p) for p in loc)
            env_name = ENV_PREFIX + "__".join(str(p) for p in loc).upper()
            if env_name in unknown:
                continue  # already reported above, with its variable name
            if _has(overrides, loc):
                where = "arguments"
            elif env_name in env:
                where = f"environment {env_name}"
            elif path is not None and (_has(data, loc) or err["type"] == "extra_forbidden"):
                line = locate_key(text, loc)
                where = f"{path}:{line}" if line else str(path)
            else:
                where = "settings"
            problems.append(f"{where}: {dotted}: {err['msg']}")
    finally:
        _FILE_DATA.reset(token)
    if problems:
        raise ConfigError("invalid settings:\n  " + "\n  ".join(problems))
    return settings


def _has(data: Mapping[str, Any], loc: tuple[Any, ...]) -> bool:
    node: Any = data
    for part in loc:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True
