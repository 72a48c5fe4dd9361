"""Settings of one service instance; every limit the security model relies on lives here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Settings:
    """What ``create_app`` needs. Defaults are safe for a single user on 127.0.0.1.

    ``allowed_folders`` is the only place from which a request may name a file by path;
    ``models`` is the only set of model names a request may ask for, so a request can never
    make the server load weights from a path of its choosing.
    """

    db_url: str = "sqlite:///artjudge.db"
    allowed_folders: tuple[Path, ...] = ()
    models: tuple[str, ...] = ("default",)
    default_model: str = "default"
    process_models: tuple[str, ...] = ("default",)
    max_upload_bytes: int = 25 * 1024 * 1024
    max_video_bytes: int = 200 * 1024 * 1024
    max_request_bytes: int = 256 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_frames: int = 64
    inference_concurrency: int = 1  # model calls at once per model; 1 is fastest on a small CPU
    runtime: str | None = (
        None  # what runs the networks: "onnx" (default) or "torch" (artjudge serve --runtime)
    )
    threads: int | None = None  # network threads per model (ONNX Runtime or torch); None: the thread policy's
    rate_per_second: float = 20.0
    rate_burst: int = 60
    organiser_token: str | None = None
    organiser_name: str = "organiser"
    # --- limits and hardening (issue 18; docs/service.md, "Limits and hardening") ---
    max_waiting: int = 8  # inference requests waiting for a model slot; past it 503 + Retry-After
    retry_after_s: int = 5  # what the 503 tells clients to wait
    decode_concurrency: int = 2  # image decodes/checks at once (each may hold max_pixels * 3 bytes)
    upload_spool_bytes: int = 1024 * 1024  # an upload part above this lives on disk, not in memory
    body_timeout_s: float = 30.0  # longest wait for the next chunk of a request body (408 past it)
    header_timeout_s: float = 10.0  # a connection must finish its request headers within this
    keep_alive_s: int = 5  # idle kept-alive connections close after this
    max_connections: int = 256  # open connections at once; more are closed on arrival
    max_header_bytes: int = 16 * 1024  # h11's bound on an incomplete request head
    log_lines_per_second: float = 20.0  # per logger (uvicorn, asyncio, artjudge.serve)
    trusted_proxies: tuple[str, ...] = ()  # peers whose X-Forwarded-For is believed; none by default
    max_video_seconds: float = 3600.0  # refused from the container header, before decoding
    max_video_frames: int = 100_000  # likewise (frame count from the header, or duration x rate)
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]", "::1", "testserver")
    cache_max_entries: int = 10_000  # cached assessments kept (least recently used evicted)
    gil_switch_interval_s: float = 0.001  # Python's default 0.005 keeps the event loop waiting behind workers
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.allowed_folders = tuple(Path(p).expanduser().resolve() for p in self.allowed_folders)
        if self.default_model not in self.models:
            self.models = (self.default_model, *self.models)
