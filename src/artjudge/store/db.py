"""Opening a database: engine, SQLite pragmas, and bringing the schema to the latest migration.

SQLite is the default because it needs no server; it runs in WAL mode with
``synchronous=FULL`` so that a judgment acknowledged to an annotator survives the server
process being killed the next instant. PostgreSQL is reached by URL
(``postgresql+psycopg://...``); plain ``postgresql://`` is read as psycopg 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from artjudge.errors import ArtjudgeError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class StoreError(ArtjudgeError):
    """The database cannot be opened or migrated."""


def normalise_url(url: str) -> str:
    """Accept a bare path or the short PostgreSQL form and return a SQLAlchemy URL."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        if url not in ("sqlite://", "sqlite:///:memory:"):
            db_path = Path(url.split("sqlite:///", 1)[1])
            if not db_path.parent.is_dir():
                raise StoreError(f"{url}: the folder {db_path.parent} does not exist")
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    except Exception as err:  # a missing driver, a malformed URL
        raise StoreError(f"{url}: cannot open the database ({err})") from err


#: PostgreSQL advisory-lock key held while migrating (any constant shared by all artjudge servers).
MIGRATION_LOCK_KEY = 0x61727400


def migrate(engine: Engine, revision: str = "head", *, attempts: int = 5) -> None:
    """Upgrade the schema to ``revision`` with Alembic (idempotent), one process at a time.

    Two servers started together on a new database used to race the first migration (one
    failed on "table already exists"). PostgreSQL serialises through an advisory lock held
    for the migration's transaction; SQLite through a lock file beside the database. A
    failure is retried a few times, since the other process may have just finished.
    """
    import time

    last: Exception | None = None
    for attempt in range(attempts):
        try:
            with _migration_lock(engine):
                _upgrade(engine, revision)
            return
        except Exception as err:  # another process migrating at the same instant; try again
            last = err
            time.sleep(0.2 * (attempt + 1))
    assert last is not None
    raise last


def _upgrade(engine: Engine, revision: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


class _migration_lock:
    """An exclusive ``flock`` on ``DB.migrate.lock`` for a file SQLite database; a no-op otherwise."""

    def __init__(self, engine: Engine) -> None:
        self.path: Path | None = None
        db = engine.url.database
        if engine.dialect.name == "sqlite" and db and db != ":memory:":
            self.path = Path(db).with_name(Path(db).name + ".migrate.lock")
        self.fh: Any = None

    def __enter__(self) -> _migration_lock:
        if self.path is not None:
            try:
                import fcntl
            except ImportError:  # Windows: the retry in migrate() is the only guard
                return self
            try:
                self.fh = open(self.path, "a")  # noqa: SIM115 (held until __exit__)
            except OSError:
                return self  # a read-only folder: migrating will fail with its own message
            fcntl.flock(self.fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fh is not None:
            self.fh.close()  # closing releases the lock


def open_store(url: str, *, upgrade: bool = True) -> sessionmaker[Session]:
    """Open (and by default migrate) a database; returns a session factory."""
    engine = make_engine(url)
    if upgrade:
        try:
            migrate(engine)
        except Exception as err:
            raise StoreError(f"{normalise_url(url)}: cannot migrate the schema ({err})") from err
    return sessionmaker(engine, expire_on_commit=False)
