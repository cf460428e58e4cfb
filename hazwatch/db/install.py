"""Install PostgreSQL 15 and build TimescaleDB when they are missing (Debian bookworm).

TimescaleDB is not packaged for bookworm; Debian trixie's source package (the Apache-2 edition)
builds against bookworm's PostgreSQL 15 in about 20 s. The source is fetched through a private
apt configuration, so the machine's own sources.list is never touched, and kept in a cache so a
second install only re-runs ``make install``.

    from hazwatch.db.install import ensure_installed
    ensure_installed(settings, say=print)   # no-op when everything is present
"""

from __future__ import annotations

import os
from pathlib import Path

from hazwatch.apt import Say, apt_install, missing_packages, run_checked
from hazwatch.errors import HazwatchError
from hazwatch.settings import Settings

PG_MAJOR = 15
PG_BINDIR = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
#: Packages the running server needs.
SERVER_PACKAGES = (f"postgresql-{PG_MAJOR}", f"postgresql-client-{PG_MAJOR}")
#: Packages only the TimescaleDB build needs.
BUILD_PACKAGES = (
    f"postgresql-server-dev-{PG_MAJOR}",
    "cmake",
    "gcc",
    "make",
    "libssl-dev",
    "xz-utils",
    "dpkg-dev",
)


def pg_config() -> Path:
    """The PostgreSQL 15 pg_config (the unversioned one may belong to another major)."""
    versioned = PG_BINDIR / "pg_config"
    return versioned if versioned.exists() else Path("/usr/bin/pg_config")


def extension_dir() -> Path:
    """Where PostgreSQL 15 looks for extension control files."""
    return Path(f"/usr/share/postgresql/{PG_MAJOR}/extension")


def timescaledb_installed() -> bool:
    return (extension_dir() / "timescaledb.control").is_file() and any(
        Path(f"/usr/lib/postgresql/{PG_MAJOR}/lib").glob("timescaledb-*.so")
    )


def _fetch_source(settings: Settings, cache: Path, say: Say) -> Path:
    """Download and unpack Debian's timescaledb source package; return the source tree."""
    existing = sorted(cache.glob("timescaledb-*/CMakeLists.txt"))
    if existing:
        return existing[-1].parent
    apt_dir = cache / "apt"
    (apt_dir / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (apt_dir / "sources.list.d").mkdir(exist_ok=True)
    (apt_dir / "sources.list").write_text(
        f"deb-src {settings.timescaledb.mirror} {settings.timescaledb.source_suite} main\n"
    )
    opts = [
        f"-oDir::Etc::SourceList={apt_dir / 'sources.list'}",
        f"-oDir::Etc::SourceParts={apt_dir / 'sources.list.d'}",
        f"-oDir::State::Lists={apt_dir / 'lists'}",
        "-oAPT::Sandbox::User=root",
    ]
    say(f"fetching the timescaledb source package from Debian {settings.timescaledb.source_suite}")
    run_checked(["apt-get", *opts, "update", "-qq"])
    download = cache / "download"
    download.mkdir(exist_ok=True)
    run_checked(["apt-get", *opts, "source", "--download-only", "-qq", "timescaledb"], cwd=download)
    tarballs = sorted(download.glob("timescaledb_*.orig.tar.*"))
    if not tarballs:
        raise HazwatchError(f"no timescaledb source archive arrived in {download}")
    version = tarballs[-1].name.split("_", 1)[1].split("+", 1)[0].split(".orig", 1)[0]
    tree = cache / f"timescaledb-{version}"
    tree.mkdir(exist_ok=True)
    run_checked(["tar", "-xf", str(tarballs[-1]), "-C", str(tree), "--strip-components=1"])
    return tree


def build_timescaledb(settings: Settings, say: Say) -> None:
    cache = settings.path(settings.timescaledb.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    tree = _fetch_source(settings, cache, say)
    build = tree / "build"
    if not (build / "Makefile").exists():
        say(f"configuring {tree.name} (Apache-2 edition)")
        run_checked(
            [
                "./bootstrap",
                "-DAPACHE_ONLY=1",
                "-DREGRESS_CHECKS=OFF",
                "-DTAP_CHECKS=OFF",
                "-DWARNINGS_AS_ERRORS=OFF",
                f"-DPG_CONFIG={pg_config()}",
            ],
            cwd=tree,
        )
    say(f"building {tree.name} (about 20 s on 2 cores)")
    run_checked(["make", f"-j{os.cpu_count() or 2}"], cwd=build)
    run_checked(["make", "install"], cwd=build)


def ensure_installed(settings: Settings, say: Say = lambda _msg: None) -> None:
    """Make PostgreSQL 15 and TimescaleDB present; do nothing when they already are."""
    missing = missing_packages(SERVER_PACKAGES)
    if missing:
        apt_install(missing, say)
    if not timescaledb_installed():
        build_missing = missing_packages(BUILD_PACKAGES)
        if build_missing:
            apt_install(build_missing, say)
        if os.geteuid() != 0:
            raise HazwatchError(
                "TimescaleDB is missing and installing it needs root: run "
                "`sudo .venv/bin/hazwatch install` once, or set HAZWATCH_DATABASE_URL"
            )
        build_timescaledb(settings, say)
        if not timescaledb_installed():
            raise HazwatchError(
                "TimescaleDB build finished but timescaledb.control is not installed"
            )
    say("PostgreSQL 15 and TimescaleDB are installed")
