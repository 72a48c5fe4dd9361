"""Store tests on SQLite and on a real PostgreSQL (scripts/start_postgres.sh -> ARTJUDGE_TEST_PG_URL)."""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers_extras import require_extra  # noqa: E402

require_extra("serve")
from sqlalchemy import inspect, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from artjudge.errors import InputError  # noqa: E402
from artjudge.store import (  # noqa: E402
    Conflict,
    NotFound,
    make_engine,
    migrate,
    normalise_url,
    open_store,
    repo,  # noqa: E402
)
from artjudge.store.models import Annotator, Judgment  # noqa: E402

PG_URL = os.environ.get("ARTJUDGE_TEST_PG_URL")


def _pg_database() -> Iterator[str]:
    """A fresh database on the test server, dropped afterwards."""
    if not PG_URL:
        pytest.skip("ARTJUDGE_TEST_PG_URL is not set (start a server with scripts/start_postgres.sh)")
    name = f"artjudge_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = normalise_url(PG_URL).rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
    else:
        yield from _pg_database()


@pytest.fixture()
def sessions(db_url: str) -> sessionmaker[Session]:
    return open_store(db_url)


def _campaign(s: Session, n_items: int = 4) -> tuple[repo.Campaign, list[int]]:  # type: ignore[name-defined]
    org, _ = repo.create_organiser(s, "org")
    c = repo.create_campaign(s, org.id, "c", ["aesthetics", "color"])
    ids = [
        repo.add_item(s, c.id, f"item{i}.png", f"{i:064x}", "image/png", data=b"x").id for i in range(n_items)
    ]
    return c, ids


def test_migrations_create_every_table_and_rerun_is_a_noop(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    migrate(engine)  # idempotent
    names = set(inspect(engine).get_table_names())
    assert {
        "assessments",
        "organisers",
        "campaigns",
        "items",
        "annotators",
        "tasks",
        "judgments",
        "alembic_version",
    } <= names
    engine.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from artjudge.store.db import MIGRATIONS_DIR

    engine = make_engine(f"sqlite:///{tmp_path / 'd.sqlite'}")
    migrate(engine)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert "judgments" not in inspect(engine).get_table_names()
    migrate(engine)
    assert "judgments" in inspect(engine).get_table_names()


def test_missing_sqlite_folder_is_a_clear_error(tmp_path: Path) -> None:
    from artjudge.store import StoreError

    with pytest.raises(StoreError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path / 'nope' / 'x.sqlite'}")


def test_assessment_cache_by_hash_and_model(sessions: sessionmaker[Session]) -> None:
    rec = {
        "input": "a.png",
        "sha256": "ab" * 32,
        "model": {"id": "m1", "version": "1"},
        "overall": {"score": 50.0, "std": 5.0},
        "critique": None,
    }
    sha = "ab" * 32
    with sessions() as s:
        assert repo.get_cached_assessment(s, sha, "m1", False, version="1") is None
        repo.put_assessment(s, rec, critique=False)
        repo.put_assessment(s, rec, critique=False)  # same key twice: stored once
        assert repo.count_assessments(s) == 1
        assert repo.get_cached_assessment(s, sha, "m1", False, version="1")["overall"]["score"] == 50.0  # type: ignore[index]
        assert repo.get_cached_assessment(s, sha, "m2", False, version="1") is None  # another model
        assert repo.get_cached_assessment(s, sha, "m1", False, version="2") is None  # the model retrained
        assert (
            repo.get_cached_assessment(s, sha, "m1", True, version="1") is None
        )  # a critique was not stored
        repo.put_assessment(s, {**rec, "critique": {"overall": "x"}}, critique=True)
        assert repo.get_cached_assessment(s, sha, "m1", True, version="1")["critique"] == {"overall": "x"}  # type: ignore[index]
        # the retrained model's record sits beside the old one; each version gets its own
        repo.put_assessment(
            s, {**rec, "model": {"id": "m1", "version": "2"}, "overall": {"score": 70.0}}, critique=False
        )
        assert repo.get_cached_assessment(s, sha, "m1", False, version="2")["overall"]["score"] == 70.0  # type: ignore[index]
        assert repo.get_cached_assessment(s, sha, "m1", False, version="1")["overall"]["score"] == 50.0  # type: ignore[index]


def test_tokens_are_stored_only_as_sha256(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        c, ids = _campaign(s)
        ann, token = repo.add_annotator(s, c, "ann", [repo.PlannedTask("rating", "aesthetics", ids[0])])
        row = s.get(Annotator, ann.id)
        assert row is not None and row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in row.token_hash
        assert repo.annotator_by_token(s, token) is not None
        assert repo.annotator_by_token(s, token + "x") is None
        assert repo.annotator_by_token(s, row.token_hash) is None  # the hash is not a token


def test_judgment_idempotency_and_conflicts(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        c, ids = _campaign(s)
        a1, _ = repo.add_annotator(
            s,
            c,
            "a1",
            [
                repo.PlannedTask("pair", "aesthetics", ids[0], ids[1]),
                repo.PlannedTask("rating", "color", ids[2]),
            ],
        )
        a2, _ = repo.add_annotator(s, c, "a2", [repo.PlannedTask("pair", "aesthetics", ids[0], ids[1])])
        t_pair, t_rate = [t.id for t, _ in repo.tasks_with_answers(s, a1.id)]
        j, created = repo.submit_judgment(s, a1, t_pair, "k1", winner="a")
        assert created
        j2, created2 = repo.submit_judgment(s, a1, t_pair, "k1", winner="a")
        assert not created2 and j2.id == j.id
        with pytest.raises(Conflict):  # a second answer to an answered task
            repo.submit_judgment(s, a1, t_pair, "k2", winner="b")
        with pytest.raises(Conflict):  # one key, two tasks
            repo.submit_judgment(s, a1, t_rate, "k1", score=3)
        with pytest.raises(NotFound):  # another annotator's task
            repo.submit_judgment(s, a2, t_rate, "k9", score=3)
        with pytest.raises(InputError, match="score"):
            repo.submit_judgment(s, a1, t_rate, "k3", score=99)
        with pytest.raises(InputError, match="winner"):
            t_a2 = repo.tasks_with_answers(s, a2.id)[0][0].id
            repo.submit_judgment(s, a2, t_a2, "k4", winner="left")
        assert repo.count_judgments(s, c.id) == 1
        rows = repo.judgment_rows(s, c.id)
        assert rows[0]["item_a"] == "item0.png" and rows[0]["winner"] == "a" and rows[0]["annotator"] == "a1"


def test_concurrent_retries_store_one_judgment(sessions: sessionmaker[Session]) -> None:
    """Eight threads submit the same answer with the same key at once: one row, all acknowledged."""
    with sessions() as s:
        c, ids = _campaign(s)
        ann, _ = repo.add_annotator(s, c, "a", [repo.PlannedTask("pair", "aesthetics", ids[0], ids[1])])
        task_id = repo.tasks_with_answers(s, ann.id)[0][0].id
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        try:
            with sessions() as s2:
                me = s2.get(Annotator, ann.id)
                assert me is not None
                barrier.wait()
                j, _ = repo.submit_judgment(s2, me, task_id, "same-key", winner="b")
                results.append(j.id)
        except BaseException as err:  # collected and re-raised below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(set(results)) == 1 and len(results) == 8
    with sessions() as s:
        assert s.query(Judgment).count() == 1


def test_progress_counts(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        c, ids = _campaign(s)
        ann, _ = repo.add_annotator(s, c, "a", [repo.PlannedTask("rating", "aesthetics", i) for i in ids])
        tid = repo.tasks_with_answers(s, ann.id)[0][0].id
        repo.submit_judgment(s, ann, tid, "k", score=4)
        assert repo.progress(s, c.id) == [{"annotator_id": ann.id, "name": "a", "done": 1, "total": 4}]


def test_tasks_must_name_campaign_items(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        c, ids = _campaign(s)
        with pytest.raises(InputError, match="outside campaign"):
            repo.add_annotator(s, c, "a", [repo.PlannedTask("rating", "aesthetics", 10_000)])
        with pytest.raises(InputError, match="unknown dimension"):
            repo.add_annotator(s, c, "a", [repo.PlannedTask("rating", "nope", ids[0])])
