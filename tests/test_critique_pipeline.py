"""describe-dataset and judge-text against a real OpenAI-compatible stub server on 127.0.0.1."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from artjudge.cli import main as cli_main
from artjudge.critique.backends import BackendError, OpenAIChat
from artjudge.critique.describe import completed_ids, describe_dataset, parse_verdict, read_items
from artjudge.critique.judge_text import parse_pick, read_text_items, summarise
from helpers_extras import require_extra


class _Stub:
    """State shared with the handler: request log, failure modes, per-prompt call counts."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.fail_first = 0  # answer 503 to this many requests, then work
        self.fail_after: int | None = None  # answer 500 to every request after this many
        self.gen_calls: dict[str, int] = {}
        self.judge_agrees_first_time = False


def _reply(stub: _Stub, body: dict[str, Any]) -> str:
    system = body["messages"][0]["content"]
    user = body["messages"][-1]["content"]
    text = user if isinstance(user, str) else " ".join(p.get("text", "") for p in user if p["type"] == "text")
    if system.startswith("You judge written analyses"):
        cands = re.findall(r"Candidate (\d+):\n(.*?)\n", text)
        best = next((n for n, c in cands if "GOOD" in c), "1")
        return json.dumps({"best": int(best), "reason": "closest"})
    if system.startswith("You check whether"):
        agree = stub.judge_agrees_first_time or "call 1" not in text
        return json.dumps({"agree": agree, "reason": "fine" if agree else "too positive for a low score"})
    key = re.search(r"Human aesthetic score: ([\d.]+)", text).group(1)  # type: ignore[union-attr]
    with stub.lock:
        stub.gen_calls[key] = stub.gen_calls.get(key, 0) + 1
        n = stub.gen_calls[key]
    return json.dumps(
        {"perception": "muted colour", "cognition": "realistic", "emotion": "calm", "verdict": f"call {n}"}
    )


@pytest.fixture()
def stub() -> Iterator[tuple[_Stub, str]]:
    state = _Stub()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.requests.append({"path": self.path, "body": body})
                count = len(state.requests)
            if count <= state.fail_first or (state.fail_after is not None and count > state.fail_after):
                self.send_response(503 if count <= state.fail_first else 500)
                self.end_headers()
                self.wfile.write(b"overloaded")
                return
            if not self.path.endswith("/v1/chat/completions"):
                self.send_response(404)
                self.end_headers()
                return
            content = _reply(state, body)
            data = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _manifest(tmp_path: Path, n: int = 4, with_text: bool = False) -> Path:
    rows = []
    for i in range(n):
        arr = np.full((32, 32, 3), 40 * i, dtype=np.uint8)
        p = tmp_path / f"img{i}.png"
        Image.fromarray(arr).save(p)
        row: dict[str, Any] = {"image_id": f"id{i}", "path": str(p), "score": 20.0 + 15 * i}
        if with_text:
            row["text"] = (
                "The composition is balanced and the colours are harmonious, with a calm mood overall."
            )
            row["attr.color"] = 60.0 + i
        rows.append(row)
    m = tmp_path / "manifest.jsonl"
    m.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return m


def test_describe_loop_regenerates_until_judge_agrees(tmp_path: Path, stub: tuple[_Stub, str]) -> None:
    state, url = stub
    items = read_items(_manifest(tmp_path, with_text=True))
    out = tmp_path / "out.jsonl"
    gen = OpenAIChat(url, backoff=0.01)
    judge = OpenAIChat(url + "/v1", backoff=0.01)
    counts = describe_dataset(items, out, gen, judge, template="auto", max_attempts=3)
    assert counts == {"skipped": 0, "written": 4, "agreed": 4, "failed": 0}
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["image_id"] for r in rows] == ["id0", "id1", "id2", "id3"]
    for r in rows:
        assert r["attempts"] == 2 and r["agreed"] and r["template"] == "apddv2"
        assert r["verdicts"][0]["agree"] is False and r["verdicts"][1]["agree"] is True
        assert r["levels"]["perception"] == "muted colour"
        assert r["dataset_stats"]["mean"] == pytest.approx(42.5)
    gen_reqs = [
        q["body"] for q in state.requests if q["body"]["messages"][0]["content"].startswith("You are an art")
    ]
    first, second = gen_reqs[0]["messages"][-1]["content"], gen_reqs[1]["messages"][-1]["content"]
    assert first[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert "median" in first[0]["text"] and "expert's comment" in first[0]["text"]
    assert "too positive" in second[0]["text"]  # the judge's reason fed back
    # resuming skips everything already written
    again = describe_dataset(items, out, gen, judge)
    assert again["skipped"] == 4 and again["written"] == 0


def test_retry_then_success(tmp_path: Path, stub: tuple[_Stub, str]) -> None:
    state, url = stub
    state.fail_first = 2
    state.judge_agrees_first_time = True
    out = tmp_path / "o.jsonl"
    gen = OpenAIChat(url, retries=3, backoff=0.01)
    counts = describe_dataset(read_items(_manifest(tmp_path, n=1)), out, gen, gen, template="score-only")
    assert counts["written"] == 1 and counts["agreed"] == 1
    assert len(state.requests) == 4  # two 503s, then generator and judge


def test_endpoint_that_always_fails_gives_clear_error_and_keeps_partial_output(
    tmp_path: Path, stub: tuple[_Stub, str]
) -> None:
    state, url = stub
    state.judge_agrees_first_time = True
    state.fail_after = 4  # two images (generator + judge each), then the server breaks
    manifest = _manifest(tmp_path, n=4)
    out = tmp_path / "partial.jsonl"
    gen = OpenAIChat(url, retries=2, backoff=0.01)
    with pytest.raises(BackendError, match=r"failed after 3 attempts.*HTTP 500"):
        describe_dataset(read_items(manifest), out, gen, gen)
    assert completed_ids(out) == {"id0", "id1"}
    # the CLI says so in one line and exits non-zero, keeping the file
    rc = cli_main(
        [
            "describe-dataset",
            str(manifest),
            "--generator",
            url,
            "--judge",
            url,
            "--out",
            str(out),
            "--retries",
            "1",
            "--backoff",
            "0.01",
        ]
    )
    assert rc == 2 and completed_ids(out) == {"id0", "id1"}
    # the endpoint recovers: the run resumes and finishes only what is missing
    state.fail_after = None
    rc = cli_main(
        [
            "describe-dataset",
            str(manifest),
            "--generator",
            url,
            "--judge",
            url,
            "--out",
            str(out),
            "--backoff",
            "0.01",
        ]
    )
    assert rc == 0 and completed_ids(out) == {"id0", "id1", "id2", "id3"}
    assert len(out.read_text().splitlines()) == 4


def test_unreachable_endpoint_is_a_clear_error() -> None:
    gen = OpenAIChat("http://127.0.0.1:9", retries=1, backoff=0.01, timeout=2)
    with pytest.raises(BackendError, match="127.0.0.1:9.*failed after 2 attempts"):
        gen.chat([{"role": "user", "content": "hi"}])


def test_torn_last_line_is_dropped_on_resume(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    out.write_text(json.dumps({"image_id": "a"}) + "\n" + '{"image_id": "b", "desc')
    assert completed_ids(out) == {"a"}
    assert out.read_text() == json.dumps({"image_id": "a"}) + "\n"


def test_verdict_and_pick_parsing() -> None:
    assert parse_verdict('Sure: {"agree": true, "reason": "ok"}') == (True, "ok")
    assert parse_verdict("No, it is too harsh.")[0] is False
    assert parse_verdict("maybe")[0] is None
    assert parse_pick('{"best": 2}', 3) == 1
    assert parse_pick("I pick Candidate 3 because", 3) == 2
    assert parse_pick('{"best": 7}', 3) is None


def test_judge_text_selection_rates_and_human_agreement(tmp_path: Path, stub: tuple[_Stub, str]) -> None:
    _, url = stub
    rows = []
    for i in range(12):
        good = "ours" if i < 9 else "baseline"
        cands = {"ours": "an analysis", "baseline": "another analysis"}
        cands[good] = "GOOD analysis"
        rows.append(
            {
                "id": f"t{i}",
                "reference": "expert text",
                "candidates": cands,
                "human_pick": "ours" if i < 10 else "baseline",
            }
        )
    items_path = tmp_path / "items.jsonl"
    items_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "report.json"
    rc = cli_main(["judge-text", str(items_path), "--judge", url, "--out", str(out), "--backoff", "0.01"])
    assert rc == 0
    report = json.loads(out.read_text())["report"]
    assert report["selection"]["ours"]["rate"] == pytest.approx(9 / 12)
    lo, hi = report["selection"]["ours"]["ci95"]
    assert lo < 9 / 12 < hi
    assert report["human_agreement"]["accuracy"] == pytest.approx(11 / 12)
    # positions were shuffled: "ours" was not always shown first
    picks = json.loads(out.read_text())["items"]
    assert len({tuple(p["order"]) for p in picks}) == 2


def test_judge_text_bad_input(tmp_path: Path) -> None:
    from artjudge.errors import InputError

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"reference": "x", "candidates": {"a": "1"}}) + "\n")
    with pytest.raises(InputError, match="at least two"):
        read_text_items(bad)
    assert summarise([{"order": ["a", "b"], "pick": None, "human_pick": None}])["n_unparsed"] == 1


def test_transformers_backend_on_a_tiny_local_model(tmp_path: Path) -> None:
    """A real (randomly initialised, tiny) causal LM saved to disk and driven through hf:PATH."""
    require_extra("vlm")
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    from artjudge.critique.backends import backend_from_spec

    vocab = {
        w: i
        for i, w in enumerate(
            ["<unk>", "<eos>", "yes", "no", "agree", "score", "the", ":", "user", "assistant", "system"]
        )
    }
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<eos>")
    model = GPT2LMHeadModel(
        GPT2Config(vocab_size=len(vocab), n_positions=256, n_embd=16, n_layer=1, n_head=2)
    )
    folder = tmp_path / "tiny-lm"
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    backend = backend_from_spec(f"hf:{folder}")
    backend.max_new_tokens = 5  # type: ignore[attr-defined]
    reply = backend.chat([{"role": "user", "content": "the score : yes"}])
    assert isinstance(reply, str)
    agree, _ = parse_verdict(reply)  # random weights: any reply must parse to True, False or None
    assert agree in (True, False, None)


def test_missing_local_model_is_a_clear_error(tmp_path: Path) -> None:
    from artjudge.critique.backends import backend_from_spec
    from artjudge.errors import ArtjudgeError

    with pytest.raises(ArtjudgeError, match="hf:.*nothing-here"):
        backend_from_spec(f"hf:{tmp_path / 'nothing-here'}")
    with pytest.raises(ArtjudgeError, match="http"):
        backend_from_spec("ftp://x")


def test_read_items_from_a_real_artjudge_manifest(tmp_path: Path, agiqa_dir: Path) -> None:
    from artjudge.critique.describe import items_from_frame
    from artjudge.data.manifest import Manifest
    from artjudge.data.readers_art import read_agiqa
    from artjudge.errors import ArtjudgeError

    man = read_agiqa(agiqa_dir)
    path = man.save(tmp_path / "agiqa.jsonl")
    with pytest.raises(
        ArtjudgeError, match="artjudge manifest"
    ):  # critique may not import data: the caller reads it
        read_items(path)
    loaded = Manifest.load(path)
    items = items_from_frame(loaded.frame, str(path), loaded.images_root)
    assert len(items) == len(man.frame)
    assert all(0 <= it.score <= 100 for it in items)
    assert Path(items[0].path).is_file()
    assert items[0].category in (
        "",
        "anime style",
        "realistic style",
        "sci-fi style",
        "baroque style",
        "abstract style",
    )
