"""Repository functions: every read and write the service makes, one function each.

Each writer commits before returning, so that a caller which acknowledges the result to a
client has already made it durable. Idempotency is enforced by unique constraints, not by
a read-then-write check, so that two concurrent retries of one judgment still store it once.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from artjudge.errors import ArtjudgeError, InputError
from artjudge.store.models import (
    Annotator,
    AssessmentRow,
    Campaign,
    Item,
    Judgment,
    Organiser,
    OrganiserToken,
    Task,
    utcnow,
)
from artjudge.store.tokens import hash_token, tokens_equal


class NotFound(ArtjudgeError):
    """Something that does not exist, or that the caller may not see (the two look the same)."""


class Conflict(ArtjudgeError):
    """A write that contradicts what is already stored."""


#: Bounds on what an organiser may name: exports and pages show these to other people.
MAX_NAME_CHARS = 200
MAX_DIMENSION_CHARS = 64
MAX_DIMENSIONS = 32


def check_name(value: str, what: str, max_chars: int = MAX_NAME_CHARS) -> str:
    """``value`` stripped; refused when empty, too long, or holding control / bidi-override characters.

    A right-to-left override in an annotator's name makes an export or a page show another
    text than the one stored; control characters break CSV rows and log lines.
    """
    import unicodedata

    v = value.strip()
    if not v:
        raise InputError(what, "must not be empty")
    if len(v) > max_chars:
        raise InputError(what, f"{len(v)} characters is over the limit of {max_chars}")
    for ch in v:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co"):
            raise InputError(
                what, f"holds the control or formatting character U+{ord(ch):04X}; use plain text"
            )
    return v


# ---------------------------------------------------------------- assessments


def get_cached_assessment(
    s: Session, sha256: str, model_id: str, critique: bool, *, version: str
) -> dict[str, Any] | None:
    """A stored record for this content and model (id and version); one with critique also serves one without.

    ``version`` is required: a lookup by id alone served a retrained model's predecessor's records.
    """
    wanted = [True] if critique else [True, False]
    row = s.scalars(
        select(AssessmentRow)
        .where(
            AssessmentRow.sha256 == sha256,
            AssessmentRow.model_id == model_id,
            AssessmentRow.model_version == version,
            AssessmentRow.with_critique.in_(wanted),
        )
        .order_by(AssessmentRow.with_critique.asc())
        .limit(1)
    ).first()
    if row is None:
        return None
    record = dict(row.record)
    try:  # the LRU clock; a read-only store still serves the hit
        row.used_at = utcnow()
        s.commit()
    except Exception:
        s.rollback()
    return record


def put_assessment(
    s: Session,
    record: dict[str, Any],
    critique: bool,
    *,
    max_entries: int | None = None,
    model_key: str | None = None,
) -> None:
    """Cache a record under its content hash and model id and version; a concurrent insert of the same key wins quietly.

    ``model_key`` replaces the model id in the key (not in the record) when the record depends on
    more than the model, e.g. the prompt it was checked against. With ``max_entries`` the least
    recently used records beyond it are deleted, so the cache cannot grow without bound.
    """
    now = utcnow()
    row = AssessmentRow(
        sha256=record["sha256"],
        model_id=model_key or record["model"]["id"],
        model_version=str(record["model"].get("version", "")),
        with_critique=critique,
        record=record,
        created_at=now,
        used_at=now,
    )
    s.add(row)
    try:
        s.commit()
    except IntegrityError:
        s.rollback()
    if max_entries is not None and max_entries >= 0:
        evict_assessments(s, max_entries)


def evict_assessments(s: Session, max_entries: int) -> int:
    """Delete the least recently used cached records beyond ``max_entries``; returns how many went."""
    excess = count_assessments(s) - max_entries
    if excess <= 0:
        return 0
    last = func.coalesce(AssessmentRow.used_at, AssessmentRow.created_at)
    ids = list(s.scalars(select(AssessmentRow.id).order_by(last.asc(), AssessmentRow.id.asc()).limit(excess)))
    s.execute(delete(AssessmentRow).where(AssessmentRow.id.in_(ids)))
    s.commit()
    return len(ids)


def count_assessments(s: Session) -> int:
    return int(s.scalar(select(func.count()).select_from(AssessmentRow)) or 0)


# ---------------------------------------------------------------- principals


def new_token() -> str:
    """A random bearer token (256 bits, URL-safe); only its hash is ever stored."""
    return secrets.token_urlsafe(32)


#: The weakest organiser token accepted: length, and distinct characters (a crude entropy floor).
MIN_TOKEN_CHARS = 32
MIN_TOKEN_DISTINCT = 12


def check_token_strength(token: str, what: str = "organiser token") -> None:
    """Refuse a token an attacker could guess: under 32 characters or under 12 distinct ones."""
    if len(token) < MIN_TOKEN_CHARS:
        raise InputError(
            what,
            f"{len(token)} characters is too short; use at least {MIN_TOKEN_CHARS} "
            "random characters (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)",
        )
    if len(set(token)) < MIN_TOKEN_DISTINCT or any(ch.isspace() or ord(ch) < 32 for ch in token):
        raise InputError(
            what,
            f"too little variety ({len(set(token))} distinct characters, or spaces); "
            "use a random token such as secrets.token_urlsafe(32)",
        )


def _token_row(s: Session, token: str) -> OrganiserToken | None:
    h = hash_token(token)
    row = s.scalars(select(OrganiserToken).where(OrganiserToken.token_hash == h)).first()
    return row if row is not None and tokens_equal(row.token_hash, h) else None


def _organiser_role(s: Session, name: str, *, or_first: bool = False) -> Organiser | None:
    """The organiser called ``name`` (with ``or_first``: else the first organiser of the store)."""
    org = s.scalars(select(Organiser).where(Organiser.name == name).order_by(Organiser.id)).first()
    if org is None and or_first:
        org = s.scalars(select(Organiser).order_by(Organiser.id)).first()
    return org


def create_organiser(
    s: Session,
    name: str,
    token: str | None = None,
    *,
    source: str = "cli",
    new_role: bool = False,
    or_first: bool = False,
) -> tuple[Organiser, str]:
    """Give the organiser role a new token; returns it in clear (shown once, never stored).

    A given token must pass :func:`check_token_strength`; a revoked one is refused. The token
    joins the existing organiser called ``name`` (else the first organiser), so it sees the
    same campaigns (``or_first``: else the store's first organiser); an unknown name, ``new_role=True``
    or an empty store creates a separate organiser.
    """
    if token is not None:
        check_token_strength(token)
        known = _token_row(s, token)
        if known is not None:
            if known.revoked_at is not None:
                raise InputError("organiser token", "this token was revoked; choose a new one")
            org = s.get(Organiser, known.organiser_id)
            assert org is not None
            return org, token
    token = token or new_token()
    h = hash_token(token)
    org = None if new_role else _organiser_role(s, name, or_first=or_first)
    if org is None:
        org = Organiser(name=name, token_hash=h)
        s.add(org)
        s.flush()
    s.add(OrganiserToken(organiser_id=org.id, token_hash=h, source=source))
    s.commit()
    return org, token


def adopt_env_token(s: Session, name: str, token: str) -> tuple[Organiser, int]:
    """``ARTJUDGE_ORGANISER_TOKEN`` at start-up: the same organiser role, the previous env token revoked.

    Restarting with a new token used to create a second organiser who saw none of the
    campaigns while the old token stayed valid. Returns the organiser and how many earlier
    env tokens were revoked (tokens made with ``artjudge organiser-token`` stay until revoked).
    """
    org, _ = create_organiser(s, name, token, source="env", or_first=True)
    h = hash_token(token)
    old = list(
        s.scalars(
            select(OrganiserToken).where(
                OrganiserToken.organiser_id == org.id,
                OrganiserToken.source == "env",
                OrganiserToken.token_hash != h,
                OrganiserToken.revoked_at.is_(None),
            )
        )
    )
    for row in old:
        row.revoked_at = utcnow()
    s.commit()
    return org, len(old)


def count_organisers(s: Session) -> int:
    return int(s.scalar(select(func.count()).select_from(Organiser)) or 0)


def organiser_by_token(s: Session, token: str) -> Organiser | None:
    row = _token_row(s, token)
    if row is None or row.revoked_at is not None:
        return None
    return s.get(Organiser, row.organiser_id)


def list_organiser_tokens(s: Session) -> list[tuple[OrganiserToken, Organiser]]:
    """Every organiser token (active and revoked) with its organiser, oldest first."""
    rows = s.execute(
        select(OrganiserToken, Organiser)
        .join(Organiser, Organiser.id == OrganiserToken.organiser_id)
        .order_by(OrganiserToken.id)
    )
    return [(t, o) for t, o in rows]


def revoke_organiser_token(s: Session, token_id: int) -> OrganiserToken:
    """Revoke one token by its id (from :func:`list_organiser_tokens`); revoking twice is a no-op."""
    row = s.get(OrganiserToken, token_id)
    if row is None:
        raise NotFound(f"organiser token {token_id}: not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        s.commit()
    return row


def annotator_by_token(s: Session, token: str) -> Annotator | None:
    h = hash_token(token)
    ann = s.scalars(select(Annotator).where(Annotator.token_hash == h)).first()
    return ann if ann is not None and tokens_equal(ann.token_hash, h) else None


# ---------------------------------------------------------------- campaigns


def create_campaign(
    s: Session,
    organiser_id: int,
    name: str,
    dimensions: Sequence[str],
    scale_min: int = 1,
    scale_max: int = 7,
    pair_design: str = "round_robin",
    pairs_per_annotator: int = 0,
    instructions: str = "",
    with_ratings: bool = True,
) -> Campaign:
    if not name.strip():
        raise InputError("name", "a campaign needs a name")
    name = check_name(name, "name")
    if len(dimensions) > MAX_DIMENSIONS:
        raise InputError("dimensions", f"{len(dimensions)} dimensions is over the limit of {MAX_DIMENSIONS}")
    dims = [check_name(d, "dimensions", MAX_DIMENSION_CHARS) for d in dimensions if d.strip()]
    if not dims:
        raise InputError("dimensions", "give at least one dimension")
    if len(set(dims)) != len(dims):
        raise InputError("dimensions", "dimensions repeat")
    if max(abs(scale_min), abs(scale_max)) > 1_000_000:
        raise InputError(
            "scale", f"scale_min and scale_max must lie within +-1000000 (got {scale_min}..{scale_max})"
        )
    if not scale_min < scale_max or scale_max - scale_min > 100:
        raise InputError("scale", f"need scale_min < scale_max (got {scale_min}..{scale_max})")
    c = Campaign(
        organiser_id=organiser_id,
        name=name.strip(),
        dimensions=dims,
        scale_min=scale_min,
        scale_max=scale_max,
        pair_design=pair_design,
        pairs_per_annotator=pairs_per_annotator,
        instructions=instructions,
        with_ratings=with_ratings,
    )
    s.add(c)
    s.commit()
    return c


def campaign_for_organiser(s: Session, campaign_id: int, organiser_id: int) -> Campaign:
    c = s.get(Campaign, campaign_id)
    if c is None or c.organiser_id != organiser_id:
        raise NotFound(f"campaign {campaign_id}: not found")
    return c


def list_campaigns(s: Session, organiser_id: int) -> list[Campaign]:
    return list(
        s.scalars(select(Campaign).where(Campaign.organiser_id == organiser_id).order_by(Campaign.id))
    )


def add_item(
    s: Session,
    campaign_id: int,
    key: str,
    sha256: str,
    media_type: str,
    data: bytes | None = None,
    path: str | None = None,
) -> Item:
    if s.scalars(select(Item).where(Item.campaign_id == campaign_id, Item.key == key)).first():
        raise Conflict(f"item {key!r}: already in campaign {campaign_id}")
    it = Item(campaign_id=campaign_id, key=key, sha256=sha256, media_type=media_type, data=data, path=path)
    s.add(it)
    s.commit()
    return it


def add_items(s: Session, campaign_id: int, items: Sequence[dict[str, Any]]) -> list[Item]:
    """Add many items in one transaction: all of them or, on any conflict or failure, none.

    Why: an import killed or refused half-way used to keep the first items, and its retry
    was then refused for the names already stored.
    """
    keys = [str(it["key"]) for it in items]
    taken = set(s.scalars(select(Item.key).where(Item.campaign_id == campaign_id, Item.key.in_(keys))))
    if taken or len(set(keys)) != len(keys):
        dupes = sorted(taken | {k for k in keys if keys.count(k) > 1})
        raise Conflict(f"items: names repeat ({', '.join(dupes[:5])}); nothing was added")
    rows = [
        Item(
            campaign_id=campaign_id,
            key=it["key"],
            sha256=it["sha256"],
            media_type=it["media_type"],
            data=it.get("data"),
            path=it.get("path"),
        )
        for it in items
    ]
    try:
        s.add_all(rows)
        s.commit()
    except IntegrityError:
        s.rollback()
        raise Conflict("items: a concurrent import added the same names; nothing was added") from None
    except Exception:
        s.rollback()
        raise
    return rows


def delete_item(s: Session, campaign_id: int, item_id: int) -> None:
    """Remove an item that no task uses yet (items are fixed once annotators are invited)."""
    it = s.get(Item, item_id)
    if it is None or it.campaign_id != campaign_id:
        raise NotFound(f"item {item_id}: not found")
    used = s.scalar(
        select(func.count())
        .select_from(Task)
        .where((Task.item_a_id == item_id) | (Task.item_b_id == item_id))
    )
    if used:
        raise Conflict(f"item {item_id}: annotators have tasks on it; it cannot be removed")
    s.delete(it)
    s.commit()


def list_items(s: Session, campaign_id: int) -> list[Item]:
    return list(s.scalars(select(Item).where(Item.campaign_id == campaign_id).order_by(Item.id)))


def item_for_annotator(s: Session, item_id: int, annotator: Annotator) -> Item:
    """An item the annotator has a task on; anything else is reported as not found."""
    it = s.get(Item, item_id)
    if it is None or it.campaign_id != annotator.campaign_id:
        raise NotFound(f"item {item_id}: not found")
    has_task = s.scalar(
        select(func.count())
        .select_from(Task)
        .where(
            Task.annotator_id == annotator.id,
            (Task.item_a_id == item_id) | (Task.item_b_id == item_id),
        )
    )
    if not has_task:
        raise NotFound(f"item {item_id}: not found")
    return it


@dataclass
class PlannedTask:
    kind: str  # "pair" | "rating"
    dimension: str
    item_a_id: int
    item_b_id: int | None = None


def add_annotator(
    s: Session, campaign: Campaign, name: str, tasks: Sequence[PlannedTask]
) -> tuple[Annotator, str]:
    """Invite an annotator with their task list; returns the clear token (shown once)."""
    if not name.strip():
        raise InputError("name", "an annotator needs a name")
    name = check_name(name, "name")
    same = s.scalars(
        select(Annotator.id).where(
            Annotator.campaign_id == campaign.id, func.lower(Annotator.name) == name.lower()
        )
    ).first()
    if same is not None:  # exports key people by name: two "Ann"s would merge into one
        raise Conflict(
            f"annotator {name!r}: already in campaign {campaign.id}; give each person a distinct name"
        )
    token = new_token()
    ann = Annotator(campaign_id=campaign.id, name=name, token_hash=hash_token(token))
    s.add(ann)
    s.flush()
    item_ids = {i.id for i in list_items(s, campaign.id)}
    for pos, t in enumerate(tasks):
        if t.item_a_id not in item_ids or (t.item_b_id is not None and t.item_b_id not in item_ids):
            s.rollback()
            raise InputError("tasks", f"task {pos} names an item outside campaign {campaign.id}")
        if t.dimension not in campaign.dimensions:
            s.rollback()
            raise InputError("tasks", f"task {pos}: unknown dimension {t.dimension!r}")
        s.add(
            Task(
                campaign_id=campaign.id,
                annotator_id=ann.id,
                position=pos,
                kind=t.kind,
                dimension=t.dimension,
                item_a_id=t.item_a_id,
                item_b_id=t.item_b_id,
            )
        )
    s.commit()
    return ann, token


def list_annotators(s: Session, campaign_id: int) -> list[Annotator]:
    return list(
        s.scalars(select(Annotator).where(Annotator.campaign_id == campaign_id).order_by(Annotator.id))
    )


def tasks_with_answers(s: Session, annotator_id: int) -> list[tuple[Task, Judgment | None]]:
    tasks = list(s.scalars(select(Task).where(Task.annotator_id == annotator_id).order_by(Task.position)))
    answers = {j.task_id: j for j in s.scalars(select(Judgment).where(Judgment.annotator_id == annotator_id))}
    return [(t, answers.get(t.id)) for t in tasks]


def submit_judgment(
    s: Session,
    annotator: Annotator,
    task_id: int,
    idempotency_key: str,
    *,
    winner: str | None = None,
    score: float | None = None,
    confidence: float | None = None,
) -> tuple[Judgment, bool]:
    """Store an answer once. Returns (judgment, created); a replay of the same key returns the original.

    The same key with a different task, or a second answer to an answered task, is a Conflict.
    """
    if not idempotency_key or len(idempotency_key) > 100:
        raise InputError("idempotency_key", "give a key of 1 to 100 characters")
    prior = s.scalars(
        select(Judgment).where(
            Judgment.annotator_id == annotator.id, Judgment.idempotency_key == idempotency_key
        )
    ).first()
    if prior is not None:
        if prior.task_id != task_id:
            raise Conflict(f"idempotency key {idempotency_key!r}: already used for task {prior.task_id}")
        return prior, False
    task = s.get(Task, task_id)
    if task is None or task.annotator_id != annotator.id:
        raise NotFound(f"task {task_id}: not found")
    campaign = s.get(Campaign, task.campaign_id)
    assert campaign is not None
    if confidence is not None and not 0.0 <= confidence <= 1.0:
        raise InputError("confidence", f"must lie in 0..1 (got {confidence})")
    if task.kind == "pair":
        if winner not in ("a", "b", "tie"):
            raise InputError("winner", f"must be 'a', 'b' or 'tie' for a pair task (got {winner!r})")
        score = None
    else:
        if score is None or not campaign.scale_min <= score <= campaign.scale_max:
            raise InputError("score", f"must lie in {campaign.scale_min}..{campaign.scale_max} (got {score})")
        winner = None
    j = Judgment(
        campaign_id=task.campaign_id,
        annotator_id=annotator.id,
        task_id=task.id,
        idempotency_key=idempotency_key,
        kind=task.kind,
        dimension=task.dimension,
        winner=winner,
        score=score,
        confidence=confidence,
    )
    s.add(j)
    try:
        s.commit()
    except IntegrityError:
        s.rollback()
        again = s.scalars(
            select(Judgment).where(
                Judgment.annotator_id == annotator.id, Judgment.idempotency_key == idempotency_key
            )
        ).first()
        if again is not None and again.task_id == task_id:
            return again, False  # a concurrent retry of the same submission won the race
        raise Conflict(f"task {task_id}: already answered") from None
    return j, True


# ---------------------------------------------------------------- organiser views


def progress(s: Session, campaign_id: int) -> list[dict[str, Any]]:
    totals = dict(
        s.execute(
            select(Task.annotator_id, func.count())
            .where(Task.campaign_id == campaign_id)
            .group_by(Task.annotator_id)
        ).all()
    )
    done = dict(
        s.execute(
            select(Judgment.annotator_id, func.count())
            .where(Judgment.campaign_id == campaign_id)
            .group_by(Judgment.annotator_id)
        ).all()
    )
    return [
        {
            "annotator_id": a.id,
            "name": a.name,
            "done": int(done.get(a.id, 0)),
            "total": int(totals.get(a.id, 0)),
        }
        for a in list_annotators(s, campaign_id)
    ]


def annotator_progress(s: Session, annotator_id: int) -> tuple[int, int]:
    """(done, total) for one annotator: two indexed counts, cheap enough for every submission."""
    total = s.scalar(select(func.count()).select_from(Task).where(Task.annotator_id == annotator_id)) or 0
    done = (
        s.scalar(select(func.count()).select_from(Judgment).where(Judgment.annotator_id == annotator_id)) or 0
    )
    return int(done), int(total)


def judgment_rows(s: Session, campaign_id: int) -> list[dict[str, Any]]:
    """Every judgment of a campaign with names resolved, oldest first."""
    items = {i.id: i.key for i in list_items(s, campaign_id)}
    anns = {a.id: a.name for a in list_annotators(s, campaign_id)}
    rows = s.execute(
        select(Judgment, Task)
        .join(Task, Task.id == Judgment.task_id)
        .where(Judgment.campaign_id == campaign_id)
        .order_by(Judgment.id)
    ).all()
    out: list[dict[str, Any]] = []
    for j, t in rows:
        out.append(
            {
                "annotator": anns.get(j.annotator_id, str(j.annotator_id)),
                "annotator_id": j.annotator_id,
                "kind": j.kind,
                "dimension": j.dimension,
                "item_a": items[t.item_a_id],
                "item_b": items[t.item_b_id] if t.item_b_id is not None else None,
                "winner": j.winner,
                "score": j.score,
                "confidence": j.confidence,
                "timestamp": j.created_at.isoformat() if j.created_at else "",
            }
        )
    return out


def count_judgments(s: Session, campaign_id: int | None = None) -> int:
    q = select(func.count()).select_from(Judgment)
    if campaign_id is not None:
        q = q.where(Judgment.campaign_id == campaign_id)
    return int(s.scalar(q) or 0)
