"""``artjudge serve`` (the HTTP service and web page) and ``artjudge organiser-token``."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from artjudge.cli import deprecated_flag


def register(subparsers: Any) -> None:
    _register_serve(subparsers)
    _register_organiser(subparsers)
    register_campaign(subparsers)


def _register_serve(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the HTTP API, web page and annotation campaigns",
        description="Serve artjudge over HTTP (127.0.0.1 by default). The organiser token "
        "comes from $ARTJUDGE_ORGANISER_TOKEN, or is made and printed once.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--db",
        default="sqlite:///artjudge.db",
        help="database URL: sqlite:///FILE (default artjudge.db, WAL) or postgresql+psycopg://...",
    )
    p.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="DIR",
        help="folder from which requests may name files by path (repeatable)",
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME",
        help="model name a request may ask for (repeatable; the first is the default)",
    )
    p.add_argument("--max-upload-mb", type=float, default=25.0)
    p.add_argument("--max-pixels", type=int, default=40_000_000)
    p.add_argument("--rate", type=float, default=20.0, help="requests a second per client (token bucket)")
    p.add_argument("--burst", type=int, default=60, help="bucket size per client")
    p.add_argument("--log-level", default="info")
    p.add_argument(
        "--runtime",
        choices=("onnx", "torch"),
        default=None,
        help="what runs the models' networks: onnx (default, no torch needed) or torch",
    )
    deprecated_flag(p, "--engine", "--runtime", "runtime", choices=("onnx", "torch"))
    p.add_argument("--threads", type=int, help="network threads per model (default: the thread policy's)")
    p.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDR",
        help="a reverse proxy whose X-Forwarded-For is believed (repeatable; default: none, the "
        "rate limit and the log use the connecting address)",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="HOST",
        help="a Host name this server answers for besides 127.0.0.1/localhost (repeatable; "
        "'*' for any; needed with --host 0.0.0.0)",
    )
    p.add_argument(
        "--max-waiting",
        type=int,
        default=8,
        help="inference requests waiting for the model; more get 503 + Retry-After (default 8)",
    )
    p.add_argument("--max-connections", type=int, default=256, help="open connections at once (default 256)")
    p.set_defaults(func=serve)


def _register_organiser(subparsers: Any) -> None:
    """``organiser-token`` (a new token) and ``organiser list|revoke``."""
    t = subparsers.add_parser(
        "organiser-token", help="give the organiser a new token and print it (shown once)"
    )
    t.add_argument("--db", default="sqlite:///artjudge.db")
    t.add_argument(
        "--name",
        default="organiser",
        help="the organiser it belongs to (an existing name shares its campaigns; a new name is a "
        "separate organiser)",
    )
    t.set_defaults(func=organiser_token)
    o = subparsers.add_parser("organiser", help="list or revoke organiser tokens")
    osub = o.add_subparsers(dest="organiser_command", metavar="ACTION")
    ol = osub.add_parser("list", help="every organiser token: id, organiser, source, created, revoked")
    ol.add_argument("--db", default="sqlite:///artjudge.db")
    ol.set_defaults(func=organiser_list)
    orv = osub.add_parser("revoke", help="revoke a token by its id (from `artjudge organiser list`)")
    orv.add_argument("token_id", type=int)
    orv.add_argument("--db", default="sqlite:///artjudge.db")
    orv.set_defaults(func=organiser_revoke)
    o.set_defaults(func=lambda _args: (o.print_help(), 2)[1])


def organiser_token(args: argparse.Namespace) -> int:
    from artjudge.store import open_store, repo

    sessions = open_store(args.db)
    with sessions() as s:
        _, token = repo.create_organiser(s, args.name)
    print(token)
    return 0


def organiser_list(args: argparse.Namespace) -> int:
    """Tokens are listed by id and a short hash prefix: the clear token is never stored."""
    from artjudge.store import open_store, repo

    with open_store(args.db)() as s:
        print("id\torganiser\tsource\ttoken\tcreated\tstatus")  # a header row: what each column is
        for tok, org in repo.list_organiser_tokens(s):
            revoked = tok.revoked_at.isoformat(timespec="seconds") if tok.revoked_at else "active"
            print(
                f"{tok.id}\t{org.name}\t{tok.source}\tsha256:{tok.token_hash[:8]}\t"
                f"{tok.created_at.isoformat(timespec='seconds')}\t{revoked}"
            )
    return 0


def organiser_revoke(args: argparse.Namespace) -> int:
    from artjudge.store import open_store, repo

    with open_store(args.db)() as s:
        tok = repo.revoke_organiser_token(s, args.token_id)
        active = sum(1 for t, _ in repo.list_organiser_tokens(s) if t.revoked_at is None)
    print(f"revoked organiser token {tok.id}")
    if not active:
        print(
            "artjudge: warning: no active organiser token is left; run `artjudge organiser-token`",
            file=sys.stderr,
        )
    return 0


def serve(args: argparse.Namespace) -> int:
    from artjudge.serve import Settings, create_app
    from artjudge.serve.server import run_server
    from artjudge.store import open_store, repo

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"artjudge: warning: binding {args.host}: the service is reachable from other machines; "
            "put it behind TLS",
            file=sys.stderr,
        )
        if not args.allowed_host:
            print(
                "artjudge: warning: only requests for 127.0.0.1/localhost"
                f"{'' if args.host in ('0.0.0.0', '::') else ' and ' + args.host} are answered; add "
                "--allowed-host NAME for each name clients use (DNS-rebinding guard)",
                file=sys.stderr,
            )
    for line in check_allowed_folders(args.allow):
        print(f"artjudge: warning: {line}", file=sys.stderr)
    models = tuple(args.model) or ("default",)
    token = os.environ.get("ARTJUDGE_ORGANISER_TOKEN") or None
    if token is None:
        with open_store(args.db)() as s:
            if repo.count_organisers(s) == 0:
                _, token = repo.create_organiser(s, "organiser", source="generated")
                print(f"artjudge: organiser token (shown once, keep it): {token}", file=sys.stderr)
                token = None  # already registered
    settings = Settings(
        db_url=args.db,
        allowed_folders=tuple(args.allow),
        models=models,
        default_model=models[0],
        runtime=args.runtime,
        threads=args.threads,
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
        max_pixels=args.max_pixels,
        rate_per_second=args.rate,
        rate_burst=args.burst,
        organiser_token=token,
        trusted_proxies=tuple(args.trusted_proxy),
        max_waiting=args.max_waiting,
        max_connections=args.max_connections,
        allowed_hosts=_allowed_hosts(args),
    )
    app = create_app(settings)
    print(f"artjudge: serving on http://{args.host}:{args.port}/  (API docs at /docs)", file=sys.stderr)
    run_server(app, settings, args.host, args.port, args.log_level)
    return 0


def _allowed_hosts(args: argparse.Namespace) -> tuple[str, ...]:
    """Host names accepted in requests: loopback names, the bound address, and ``--allowed-host``."""
    from artjudge.serve import Settings

    hosts = [*Settings().allowed_hosts, *args.allowed_host]
    if args.host not in ("0.0.0.0", "::"):
        hosts.append(args.host)
    return tuple(dict.fromkeys(hosts))


def check_allowed_folders(folders: list[str]) -> list[str]:
    """One warning line per ``--allow`` folder that is missing; a path that is a file is refused.

    A typo in ``--allow`` would otherwise start a server that refuses every path request with
    no hint why.
    """
    from pathlib import Path

    from artjudge.errors import InputError

    warnings: list[str] = []
    for folder in folders:
        path = Path(folder).expanduser()
        if not path.exists():
            warnings.append(f"--allow {folder}: no such folder; requests naming files there will be refused")
        elif not path.is_dir():
            raise InputError(f"--allow {folder}", "not a folder")
    return warnings


def register_campaign(subparsers: Any) -> None:
    c = subparsers.add_parser("campaign", help="annotation campaigns in a database, without the server")
    sub = c.add_subparsers(dest="campaign_command", metavar="ACTION")
    ls = sub.add_parser("list", help="list campaigns with their progress")
    ls.add_argument("--db", default="sqlite:///artjudge.db")
    ls.set_defaults(func=campaign_list)
    ex = sub.add_parser("export", help="write judgments.csv and ratings.csv of a campaign")
    ex.add_argument("campaign", type=int)
    ex.add_argument("--db", default="sqlite:///artjudge.db")
    ex.add_argument("--out", default=".", help="folder for judgments.csv and ratings.csv (made if missing)")
    ex.add_argument(
        "--force", action="store_true", help="overwrite judgments.csv / ratings.csv already there"
    )
    ex.set_defaults(func=campaign_export)
    c.set_defaults(func=lambda _args: (c.print_help(), 2)[1])


def campaign_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from artjudge.store import open_store, repo
    from artjudge.store.models import Campaign

    with open_store(args.db)() as s:
        print("id\tname\tdimensions\tannotators\tprogress")
        for camp in s.scalars(select(Campaign).order_by(Campaign.id)):
            prog = repo.progress(s, camp.id)
            done, total = sum(p["done"] for p in prog), sum(p["total"] for p in prog)
            print(
                f"{camp.id}\t{camp.name}\t{','.join(camp.dimensions)}\t{len(prog)} annotators\t{done}/{total} done"
            )
    return 0


def campaign_export(args: argparse.Namespace) -> int:
    from artjudge.errors import InputError
    from artjudge.serve.exports import write_exports
    from artjudge.store import open_store, repo
    from artjudge.store.models import Campaign

    with open_store(args.db)() as s:
        if s.get(Campaign, args.campaign) is None:
            raise InputError(f"campaign {args.campaign}", "not in this database")
        rows = repo.judgment_rows(s, args.campaign)
    for path in write_exports(rows, args.out, force=args.force):
        print(path)
    return 0
