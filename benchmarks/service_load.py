"""Load and fault test of `artjudge serve` on 127.0.0.1.

Part 1 (durability): N concurrent annotators submit judgments for a bounded time while the
server process is killed (SIGKILL) and restarted once. Clients retry with the same
idempotency key until acknowledged. Afterwards the database must hold exactly the
acknowledged judgments: none lost, none duplicated. Baseline in the same run: the same
load with no kill (throughput and p95 latency of /v1/me/judgments).

Part 2 (inference): requests/second and p95 latency of /v1/assess with the embedded model
under C concurrent clients, cold (distinct images) and cached (the same images again),
against the bare in-process ``scorer.assess`` on the same images (the ceiling).

    python benchmarks/service_load.py                       # defaults: 8 annotators, 12 s per phase
    python benchmarks/service_load.py --annotators 16 --duration 20 --db postgresql+psycopg://...

    nice -n 5 python benchmarks/service_load.py --only-hostile   # the hostile cases of issue 18

Part 3 (hostile, issue 18): peak server RSS through 100 concurrent 20 MB uploads and ten
150 MB fake videos, /health p99 during a 64-frame 6300x6300 request and a six-client assess
loop, a 4-hour video refused from its header, forged X-Forwarded-For against the rate
limit, 300 slow-header connections; a judgment stream runs throughout (acknowledged = stored).

Prints a table and writes benchmarks/results/service_load.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "service_load.json"
TOKEN = "service-load-organiser-" + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def image_bytes(seed: int, size: int = 256) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    arr = np.stack([0.2 + 0.7 * y, 0.3 + 0.5 * x * rng.random(), 0.8 - 0.6 * y], -1)
    arr += rng.normal(0, 0.05, arr.shape)
    buf = io.BytesIO()
    Image.fromarray((np.clip(arr, 0, 1) * 255).astype(np.uint8)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


class Server:
    """`artjudge serve` in a child process that can be killed hard and started again."""

    def __init__(self, db: str, port: int, model: str = "default") -> None:
        self.db, self.port, self.model = db, port, model
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> float:
        t0 = time.perf_counter()
        env = {**os.environ, "ARTJUDGE_ORGANISER_TOKEN": TOKEN, "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "artjudge",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--db",
                self.db,
                "--model",
                self.model,
                "--rate",
                "100000",
                "--burst",
                "100000",
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise SystemExit(f"server exited at start: {err[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise SystemExit("server did not answer /health within 60 s")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Annotator:
    token: str
    tasks: list[dict[str, Any]]
    acked: set[int] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)
    retries: int = 0


def setup_campaign(url: str, n_annotators: int, n_items: int) -> tuple[int, list[Annotator]]:
    h = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, headers=h, timeout=30) as c:
        cid = c.post(
            "/v1/campaigns", json={"name": f"load-{uuid.uuid4().hex[:6]}", "dimensions": ["aesthetics"]}
        ).json()["id"]
        files = [("files", (f"i{i}.jpg", image_bytes(1000 + i, 48), "image/jpeg")) for i in range(n_items)]
        c.post(f"/v1/campaigns/{cid}/items", files=files).raise_for_status()
        anns = []
        for k in range(n_annotators):
            inv = c.post(f"/v1/campaigns/{cid}/annotators", json={"name": f"a{k}"}).json()
            me = httpx.get(
                url + "/v1/me", headers={"Authorization": f"Bearer {inv['token']}"}, timeout=30
            ).json()
            anns.append(Annotator(inv["token"], me["tasks"]))
    return cid, anns


def annotate(url: str, ann: Annotator, stop_at: float, pause: float = 0.0) -> None:
    """Submit tasks in order until the time is up; each task is retried with its key until acknowledged."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ann.token}"}, timeout=10) as c:
        for t in ann.tasks:
            if time.time() >= stop_at:
                return
            body = (
                {"task_id": t["id"], "winner": "a"}
                if t["kind"] == "pair"
                else {"task_id": t["id"], "score": 4}
            )
            key = f"{t['id']}-{uuid.uuid4().hex}"
            while True:
                t0 = time.perf_counter()
                try:
                    r = c.post("/v1/me/judgments", json=body, headers={"Idempotency-Key": key})
                    if r.status_code in (200, 201):
                        ann.latencies.append(time.perf_counter() - t0)
                        ann.acked.add(t["id"])
                        time.sleep(pause)
                        break
                    if r.status_code < 500:
                        raise SystemExit(f"unexpected {r.status_code}: {r.text}")
                except httpx.TransportError:
                    pass
                ann.retries += 1
                time.sleep(0.05)


def stored(db: str, campaign: int) -> tuple[set[int], int, int]:
    from sqlalchemy import func, select

    from artjudge.store import open_store
    from artjudge.store.models import Judgment

    with open_store(db)() as s:
        rows = s.execute(select(Judgment.task_id).where(Judgment.campaign_id == campaign)).scalars().all()
        dup = (
            s.execute(
                select(Judgment.task_id)
                .where(Judgment.campaign_id == campaign)
                .group_by(Judgment.task_id)
                .having(func.count() > 1)
            )
            .scalars()
            .all()
        )
    return set(rows), len(rows), len(dup)


def durability_phase(server: Server, db: str, args: argparse.Namespace, kill: bool) -> dict[str, Any]:
    cid, anns = setup_campaign(server.url, args.annotators, args.items)
    stop_at = time.time() + args.duration
    threads = [threading.Thread(target=annotate, args=(server.url, a, stop_at)) for a in anns]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    restart_s = None
    if kill:  # kill once a quarter of the work is acknowledged (or 40% of the time has passed): mid-flight
        target = min(sum(len(a.tasks) for a in anns) // 4, 400)
        while time.time() < stop_at - args.duration * 0.6 and sum(len(a.acked) for a in anns) < target:
            time.sleep(0.02)
        server.kill()
        time.sleep(0.5)
        restart_s = server.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    acked = {t for a in anns for t in a.acked}
    in_db, n_rows, n_dup = stored(db, cid)
    lat = np.array([x for a in anns for x in a.latencies]) * 1000
    return {
        "phase": "kill+restart" if kill else "baseline (no kill)",
        "annotators": len(anns),
        "duration_s": round(wall, 2),
        "acknowledged": len(acked),
        "stored": n_rows,
        "duplicated": n_dup,
        "lost": len(acked - in_db),
        "unacknowledged_stored": len(in_db - acked),
        "retries": sum(a.retries for a in anns),
        "restart_s": None if restart_s is None else round(restart_s, 2),
        "judgments_per_s": round(len(acked) / wall, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
        "p95_ms": round(float(np.percentile(lat, 95)), 1) if len(lat) else None,
        "ok": len(acked) == n_rows and n_dup == 0 and not (acked - in_db),
    }


def assess_phase(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    import artjudge
    from artjudge.errors import ArtjudgeError

    try:
        scorer = artjudge.load(args.model)
    except (ArtjudgeError, ImportError, OSError) as err:
        return {"skipped": f"embedded scorer not available in this build: {err}"}
    images = [image_bytes(seed, 512) for seed in range(args.assess_images)]
    with tempfile.TemporaryDirectory() as tmp:  # ceiling: the bare in-process call on the same images
        paths = []
        for i, b in enumerate(images):
            p = Path(tmp) / f"{i}.jpg"
            p.write_bytes(b)
            paths.append(p)
        scorer.assess(paths[0])
        t0 = time.perf_counter()
        for p in paths:
            scorer.assess(p)
        ceiling = len(paths) / (time.perf_counter() - t0)
    del scorer
    httpx.post(
        server.url + "/v1/assess",
        files={"file": ("warm.jpg", image_bytes(99999, 512), "image/jpeg")},
        timeout=120,
    ).raise_for_status()  # loads the model once

    def run(batch: list[bytes]) -> tuple[float, np.ndarray]:
        lat: list[float] = []
        lock = threading.Lock()
        queue = list(enumerate(batch))

        def worker() -> None:
            with httpx.Client(base_url=server.url, timeout=120) as c:
                while True:
                    with lock:
                        if not queue:
                            return
                        i, b = queue.pop()
                    t = time.perf_counter()
                    c.post("/v1/assess", files={"file": (f"{i}.jpg", b, "image/jpeg")}).raise_for_status()
                    with lock:
                        lat.append(time.perf_counter() - t)

        t0 = time.perf_counter()
        ths = [threading.Thread(target=worker) for _ in range(args.assess_clients)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        return len(batch) / (time.perf_counter() - t0), np.array(lat) * 1000

    cold_rps, cold_lat = run(images)
    hit_rps, hit_lat = run(images)
    return {
        "model": args.model,
        "clients": args.assess_clients,
        "images": len(images),
        "image_px": 512,
        "ceiling_in_process_img_per_s": round(ceiling, 2),
        "cold_rps": round(cold_rps, 2),
        "cold_p50_ms": round(float(np.percentile(cold_lat, 50)), 1),
        "cold_p95_ms": round(float(np.percentile(cold_lat, 95)), 1),
        "cold_share_of_ceiling": round(cold_rps / ceiling, 3),
        "cached_rps": round(hit_rps, 2),
        "cached_p95_ms": round(float(np.percentile(hit_lat, 95)), 1),
    }


# ----------------------------------------------------------------------------- hostile cases (issue 18)


class RssSampler:
    """Peak resident memory of a process, sampled from /proc every 20 ms (Linux)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        try:
            with open(f"/proc/{self.pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.02)

    def __enter__(self) -> RssSampler:
        self.peak = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


_PROBE = """
import json, os, sys, time, httpx
url, stop = sys.argv[1], sys.argv[2]
lat = []
with httpx.Client(timeout=15) as c:
    while not os.path.exists(stop):
        t = time.perf_counter()
        try:
            c.get(url + "/health")
        except httpx.HTTPError:
            pass
        lat.append((time.perf_counter() - t) * 1000)
        time.sleep(0.05)
print(json.dumps(lat))
"""


class HealthProbe:
    """GET /health every 50 ms from a separate process (so the load generator's own threads do
    not delay the probe); latencies in ms, a timeout counting as its full wait."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.lat: list[float] = []
        self._dir = tempfile.mkdtemp(prefix="artjudge-probe-")
        self._stop = Path(self._dir) / "stop"
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> HealthProbe:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _PROBE, self.url, str(self._stop)], stdout=subprocess.PIPE, text=True
        )
        time.sleep(0.3)  # the probe's interpreter starts before the load does
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.touch()
        assert self._proc is not None
        out, _ = self._proc.communicate(timeout=60)
        self.lat = json.loads(out or "[]")
        self._stop.unlink()
        os.rmdir(self._dir)

    def summary(self) -> dict[str, Any]:
        a = np.array(self.lat) if self.lat else np.array([0.0])
        return {
            "health_n": len(self.lat),
            "health_p50_ms": round(float(np.percentile(a, 50)), 1),
            "health_p99_ms": round(float(np.percentile(a, 99)), 1),
            "health_max_ms": round(float(a.max()), 1),
        }


class PaddedUpload(io.RawIOBase):
    """``base``, then a 1 MiB random block repeated up to ``size``, then 16 unique bytes, read in chunks.

    100 distinct 20 MB uploads (the cache misses on each) without 2 GB of client memory.
    """

    BLOCK = os.urandom(1 << 20)

    def __init__(self, base: bytes, size: int) -> None:
        self.base = base
        self.unique = os.urandom(16)
        self.size = max(size, len(base) + 16)
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: offset, 1: self.pos + offset, 2: self.size + offset}[whence]
        return self.pos

    def _byte_range(self, start: int, n: int) -> bytes:
        out = bytearray()
        while n > 0:
            if start < len(self.base):
                piece = self.base[start : start + n]
            elif start >= self.size - 16:
                piece = self.unique[start - (self.size - 16) :][:n]
            else:
                off = (start - len(self.base)) % len(self.BLOCK)
                piece = self.BLOCK[off : off + min(n, self.size - 16 - start)]
            out += piece
            start += len(piece)
            n -= len(piece)
        return bytes(out)

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.pos if n is None or n < 0 else min(n, self.size - self.pos)
        out = self._byte_range(self.pos, n)
        self.pos += len(out)
        return out


def noise_jpeg(side: int, seed: int = 0) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 255, (side, side, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


_GRADIENTS: dict[int, np.ndarray] = {}


def smooth_jpeg(side: int, seed: int) -> bytes:
    """A large but small-on-disk frame (a gradient, one band painted per seed): a time-lapse photo."""
    if side not in _GRADIENTS:
        ramp = np.linspace(0, 255, side).astype(np.uint8)
        grad = np.empty((side, side, 3), np.uint8)
        grad[..., 0] = ramp[:, None]
        grad[..., 1] = ramp[None, :]
        grad[..., 2] = 128
        _GRADIENTS[side] = grad
    arr = _GRADIENTS[side].copy()
    band = side // 64
    arr[: band * (seed % 64 + 1), :, 2] = 40  # the painting fills in from the top
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def concurrent(n: int, fn: Any) -> dict[str, int]:
    """Run ``fn(i)`` in ``n`` threads at once; count the status codes (or error names) returned."""
    counts: dict[str, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(n)

    def run(i: int) -> None:
        start.wait()
        try:
            key = str(fn(i))
        except httpx.HTTPError as err:
            key = type(err).__name__
        with lock:
            counts[key] = counts.get(key, 0) + 1

    ths = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    return dict(sorted(counts.items()))


def hostile_phase(server: Server, db: str, args: argparse.Namespace) -> dict[str, Any]:
    """Cases 1-3 of issue 18 against the running server, with annotators judging throughout."""
    assert server.proc is not None
    out: dict[str, Any] = {}
    cid, anns = setup_campaign(server.url, 4, 40)  # 780 pairs + 40 ratings each: judging lasts all phases
    stop_at = time.time() + 3600
    stream = [threading.Thread(target=annotate, args=(server.url, a, stop_at, 0.25)) for a in anns]
    for th in stream:
        th.start()
    httpx.post(
        server.url + "/v1/assess",
        files={"file": ("warm.jpg", image_bytes(99999, 256), "image/jpeg")},
        timeout=300,
    )  # the model loads once, outside the measurements
    base_rss = RssSampler(server.proc.pid).rss()
    out["server_rss_idle_mb"] = round(base_rss / 2**20)

    # 1a. 100 concurrent 20 MB uploads, each distinct (random tail) so the cache misses
    big = noise_jpeg(2400)

    def upload(i: int) -> int:
        body = PaddedUpload(big, 20 * 2**20)  # random padding, 16 unique bytes: each upload distinct
        return httpx.post(
            server.url + "/v1/assess", files={"file": (f"noise{i}.jpg", body, "image/jpeg")}, timeout=600
        ).status_code

    t0 = time.perf_counter()
    with RssSampler(server.proc.pid) as rss, HealthProbe(server.url) as health:
        codes = concurrent(args.hostile_uploads, upload)
    out["uploads_20mb"] = {
        "requests": args.hostile_uploads,
        "status": codes,
        "seconds": round(time.perf_counter() - t0, 1),
        "peak_rss_mb": round(rss.peak / 2**20),
        **health.summary(),
    }

    # 1b. ten 150 MB files that start with an MP4 header
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"

    def video(i: int) -> int:
        body = PaddedUpload(head, 150 * 2**20)
        return httpx.post(
            server.url + "/v1/process", files={"video": (f"v{i}.mp4", body, "video/mp4")}, timeout=600
        ).status_code

    t0 = time.perf_counter()
    with RssSampler(server.proc.pid) as rss, HealthProbe(server.url) as health:
        codes = concurrent(10, video)
    out["videos_150mb"] = {
        "requests": 10,
        "status": codes,
        "seconds": round(time.perf_counter() - t0, 1),
        "peak_rss_mb": round(rss.peak / 2**20),
        **health.summary(),
    }

    # 2a. one /v1/process request with 64 frames of 6300x6300
    frames = [
        ("frames", (f"f{i:02d}.jpg", smooth_jpeg(6300, i), "image/jpeg")) for i in range(args.hostile_frames)
    ]
    t0 = time.perf_counter()
    with RssSampler(server.proc.pid) as rss, HealthProbe(server.url) as health:
        r = httpx.post(server.url + "/v1/process", files=frames, timeout=900)
    del frames
    out["frames_64_of_6300px"] = {
        "frames": args.hostile_frames,
        "status": r.status_code,
        "detail": r.json().get("detail") if r.status_code != 200 else None,
        "seconds": round(time.perf_counter() - t0, 1),
        "peak_rss_mb": round(rss.peak / 2**20),
        **health.summary(),
    }

    # 3. a 4-hour 32x32 video: refused from its header
    try:
        import av

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "long.avi"
            with av.open(str(path), "w") as cont:
                st = cont.add_stream("mjpeg", rate=1)
                st.width = st.height = 32
                st.pix_fmt = "yuvj420p"
                frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
                for _ in range(4 * 3600):
                    for pkt in st.encode(frame):
                        cont.mux(pkt)
                for pkt in st.encode():
                    cont.mux(pkt)
            t0 = time.perf_counter()
            r = httpx.post(
                server.url + "/v1/process",
                files={"video": ("long.avi", path.read_bytes(), "video/x-msvideo")},
                timeout=300,
            )
            out["video_4h_32px"] = {
                "status": r.status_code,
                "detail": r.json().get("detail"),
                "seconds": round(time.perf_counter() - t0, 2),
            }
    except ImportError:
        out["video_4h_32px"] = {"skipped": "PyAV not installed"}

    # 2b. six clients looping /v1/assess; an annotator's /v1/me and /health meanwhile
    images = [image_bytes(5000 + i, 512) for i in range(64)]
    loop_stop = time.time() + args.hostile_loop_s
    me_lat: list[float] = []

    def assess_loop(k: int) -> int:
        n = 0
        with httpx.Client(base_url=server.url, timeout=120) as c:
            while time.time() < loop_stop:
                c.post(
                    "/v1/assess",
                    files={"file": (f"{k}-{n}.jpg", images[(k * 11 + n) % 64] + os.urandom(8), "image/jpeg")},
                )
                n += 1
        return 200

    def me_probe() -> None:
        with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {anns[0].token}"}) as c:
            while time.time() < loop_stop:
                t = time.perf_counter()
                c.get(server.url + "/v1/me")
                me_lat.append((time.perf_counter() - t) * 1000)
                time.sleep(0.1)

    with RssSampler(server.proc.pid) as rss, HealthProbe(server.url) as health:
        me = threading.Thread(target=me_probe)
        me.start()
        codes = concurrent(6, assess_loop)
        me.join()
    m = np.array(me_lat) if me_lat else np.array([0.0])
    out["assess_loop_6_clients"] = {
        "seconds": args.hostile_loop_s,
        "peak_rss_mb": round(rss.peak / 2**20),
        "me_p50_ms": round(float(np.percentile(m, 50)), 1),
        "me_p99_ms": round(float(np.percentile(m, 99)), 1),
        **health.summary(),
    }

    still_judging = all(th.is_alive() for th in stream)
    for a in anns:  # stop the judgment stream, then compare acknowledged with stored
        a.tasks = []
    for th in stream:
        th.join()
    acked = {t for a in anns for t in a.acked}
    in_db, n_rows, n_dup = stored(db, cid)
    out["judgments_meanwhile"] = {
        "acknowledged": len(acked),
        "stored": n_rows,
        "duplicated": n_dup,
        "stream_ran_throughout": still_judging,
        "lost": len(acked - in_db),
        "ok": len(acked) == n_rows and not (acked - in_db),
    }
    return out


def guard_phase(args: argparse.Namespace) -> dict[str, Any]:
    """Cases 4-5: forged X-Forwarded-For against the rate limit, and 300 slow-header connections."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="artjudge-guard-") as tmp:
        log = Path(tmp) / "server.log"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "ARTJUDGE_ORGANISER_TOKEN": TOKEN, "OMP_NUM_THREADS": "1"}
        with log.open("wb") as fh:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "artjudge",
                    "serve",
                    "--port",
                    str(port),
                    "--db",
                    f"sqlite:///{Path(tmp) / 'g.sqlite'}",
                    "--rate",
                    "20",
                    "--burst",
                    "60",
                ],
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.time() + 60
            while time.time() < deadline:
                try:
                    if httpx.get(url + "/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)

            # 4. 150 requests as fast as possible, each with a random X-Forwarded-For, then the
            # same without the header: equal 429 counts mean one bucket (the real peer's)
            def burst(forge: bool) -> dict[int, int]:
                codes: dict[int, int] = {}
                with httpx.Client(timeout=10) as c:
                    for i in range(150):
                        h = {"X-Forwarded-For": f"203.0.113.{i % 250}"} if forge else {}
                        r = c.get(url + "/v1/models", headers=h)
                        codes[r.status_code] = codes.get(r.status_code, 0) + 1
                return codes

            forged = burst(True)
            time.sleep(3.5)  # the bucket refills (60 at 20/s)
            plain = burst(False)
            text = log.read_text(errors="replace")
            out["forwarded_for_150"] = {
                "forged_status": forged,
                "plain_status": plain,
                "forged_in_log": text.count("203.0.113."),
            }
            time.sleep(3)  # let the bucket refill
            # 5. 300 connections sending a header line every 2 s for 15 s
            size0 = log.stat().st_size
            socks = []
            for _ in range(args.hostile_slow):
                try:
                    s = socket.create_connection(("127.0.0.1", port), timeout=5)
                    s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                    socks.append(s)
                except OSError:
                    break
            with HealthProbe(url) as health:
                t_end = time.time() + 15
                while time.time() < t_end:
                    time.sleep(2)
                    for s in socks:
                        with contextlib.suppress(OSError):
                            s.sendall(b"X-Slow: 1\r\n")
            alive = 0
            for s in socks:
                s.setblocking(False)
                try:
                    alive += s.recv(1) != b""
                except BlockingIOError:
                    alive += 1
                except OSError:
                    pass
                s.close()
            out["slowloris"] = {
                "connections": len(socks),
                "still_open_after_15s": alive,
                "log_growth_kb": round((log.stat().st_size - size0) / 1024, 1),
                **health.summary(),
            }
        finally:
            proc.terminate()
            proc.wait(15)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--annotators", type=int, default=8)
    ap.add_argument("--items", type=int, default=14, help="items per campaign (tasks = pairs + ratings)")
    ap.add_argument("--duration", type=float, default=12.0, help="seconds per durability phase (max 120)")
    ap.add_argument("--db", default=None, help="database URL (default: a temp SQLite file)")
    ap.add_argument("--assess-clients", type=int, default=4)
    ap.add_argument("--assess-images", type=int, default=24)
    ap.add_argument("--skip-assess", action="store_true")
    ap.add_argument("--model", default="default", help="the served model (a name or checkpoint folder)")
    ap.add_argument("--hostile", action="store_true", help="also run the hostile cases of issue 18")
    ap.add_argument(
        "--only-hostile", action="store_true", help="only the hostile cases (no durability/assess)"
    )
    ap.add_argument(
        "--only-guards", action="store_true", help="only cases 4-5 (forwarded headers, slowloris)"
    )
    ap.add_argument("--hostile-uploads", type=int, default=100, help="concurrent 20 MB uploads (max 100)")
    ap.add_argument("--hostile-frames", type=int, default=64, help="6300x6300 frames in one request (max 64)")
    ap.add_argument("--hostile-loop-s", type=float, default=20.0, help="seconds of the assess loop (max 60)")
    ap.add_argument("--hostile-slow", type=int, default=300, help="slow-header connections (max 300)")
    args = ap.parse_args()
    args.hostile_uploads = max(1, min(args.hostile_uploads, 100))
    args.hostile_frames = max(2, min(args.hostile_frames, 64))
    args.hostile_loop_s = max(2.0, min(args.hostile_loop_s, 60.0))
    args.hostile_slow = max(1, min(args.hostile_slow, 300))
    args.annotators = max(1, min(args.annotators, 64))
    args.duration = max(2.0, min(args.duration, 120.0))
    tmp = tempfile.TemporaryDirectory(prefix="artjudge-load-")
    db = args.db or f"sqlite:///{Path(tmp.name) / 'load.sqlite'}"
    server = Server(db, free_port(), args.model)
    out: dict[str, Any] = {
        "db": db.split("@")[-1] if "@" in db else "sqlite (temp file)",
        "command": " ".join(["python", "benchmarks/service_load.py", *sys.argv[1:]]),
    }
    try:
        out["startup_s"] = round(server.start(), 2)
        if not (args.only_hostile or args.only_guards):
            out["durability"] = [
                durability_phase(server, db, args, kill=False),
                durability_phase(server, db, args, kill=True),
            ]
            out["assess"] = {"skipped": "--skip-assess"} if args.skip_assess else assess_phase(server, args)
        if args.only_guards:
            out["hostile"] = guard_phase(args)
        elif args.hostile or args.only_hostile:
            out["hostile"] = hostile_phase(server, db, args)
            out["hostile"].update(guard_phase(args))
    finally:
        server.stop()
        tmp.cleanup()

    cols = [
        "phase",
        "annotators",
        "acknowledged",
        "stored",
        "duplicated",
        "lost",
        "retries",
        "judgments_per_s",
        "p95_ms",
        "restart_s",
        "ok",
    ]
    if "durability" in out:
        print("\nJudgment durability (127.0.0.1, " + out["db"] + ")")
        print(" | ".join(f"{c:>18}" if c == "phase" else f"{c:>12}" for c in cols))
        for row in out["durability"]:
            print(" | ".join(f"{row[c]!s:>18}" if c == "phase" else f"{row[c]!s:>12}" for c in cols))
        print("\n/v1/assess with the embedded model")
        for k, v in out["assess"].items():
            print(f"  {k:>30}: {v}")
    if "hostile" in out:
        print("\nHostile cases (issue 18; bars: peak RSS < 1536 MB, /health p99 < 250 ms, nothing lost)")
        for k, v in out["hostile"].items():
            print(f"  {k:>24}: {v}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = RESULTS.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(out, indent=2))
    os.replace(tmp_out, RESULTS)
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    ok = all(r["ok"] for r in out.get("durability", []))
    if "hostile" in out and "judgments_meanwhile" in out["hostile"]:
        ok = ok and out["hostile"]["judgments_meanwhile"]["ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
