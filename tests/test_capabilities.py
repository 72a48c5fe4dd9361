"""One registry, capabilities checked once at the boundary (issue 24.2-24.4).

A model spec that names nothing is one line of every kind (scorer, process judge,
consistency model, pair judge); a request a model cannot serve (a prompt for a VLM, or for
the embedded scorer on the base install without torch) is HTTP 422 / one
:class:`~artjudge.errors.Unsupported` line, never a 500 or a TypeError; renamed flags keep
their old names for one release with a warning.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import artjudge
from artjudge.api import list_models, load, load_consistency, load_judge, load_process, registry
from artjudge.cli import build_parser, main
from artjudge.errors import ModelNotAvailable, Unsupported
from artjudge.models.spec import ROLES, parse_spec
from helpers_extras import missing_modules, needs_extra
from helpers_images import write_paintings

REPO = Path(__file__).resolve().parents[1]


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (96, 96), (200, 40, 30)).save(buf, "PNG")
    return buf.getvalue()


def test_list_models_lists_every_kind() -> None:
    names = list_models()
    assert names[0] == "default" and {"vlm:PATH", "student:PATH", "checkpoint:PATH"} <= set(names)
    assert {"process:default", "consistency:offline", "consistency:clip:PATH", "judge:scorer:NAME"} <= set(
        names
    )
    assert {e.role for e in registry()} == set(ROLES)
    assert list_models("process") == ["default", "checkpoint:PATH"]


@pytest.mark.parametrize(
    ("role", "spec", "message"),
    [
        ("consistency", "bogus", "unknown consistency model 'bogus': no such file"),
        ("consistency", "vlm:x", "unknown consistency model 'vlm:x' (vlm: names a model)"),
        ("process", "nope", "unknown process judge 'nope': no such file"),
        ("judge", "oracle:x", "unknown judge 'oracle:x'"),
        ("scorer", "clip:", "unknown model 'clip:' (clip: names a consistency model)"),
        ("scorer", "vlm:", "needs a path after the colon"),
    ],
)
def test_one_parser_one_line(role: str, spec: str, message: str) -> None:
    with pytest.raises(ModelNotAvailable, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        parse_spec(spec, role)
    assert "\n" not in str(err.value)


def test_every_loader_refuses_in_one_line() -> None:
    for call in (
        lambda: load_consistency("bogus"),
        lambda: load_process("bogus"),
        lambda: load_judge("bogus"),
        lambda: load("bogus"),
        lambda: artjudge.load("default", consistency="bogus"),  # checked when the scorer is built
    ):
        with pytest.raises(ModelNotAvailable):
            call()


def test_consistency_model_bogus_is_one_line_on_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (image,) = write_paintings(tmp_path, 1)
    assert main(["assess", str(image), "--consistency-model", "bogus", "--prompt", "a dog", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("artjudge: error: unknown consistency model 'bogus'") and "\n" not in err


def test_embedded_declares_what_it_can_do() -> None:
    info = artjudge.load().info()
    assert {"prompt", "reference", "critique"} <= set(info["capabilities"])
    assert info["unsupported"].get("attributes", "").startswith("trained on the overall score only")


def test_renamed_flags_keep_their_old_names(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    new = parser.parse_args(
        ["batch", "x", "-o", "y", "--runtime", "torch", "--executor", "dask-local", "--threads", "3"]
    )
    old = parser.parse_args(
        [
            "batch",
            "x",
            "-o",
            "y",
            "--inference-engine",
            "torch",
            "--engine",
            "dask-local",
            "--torch-threads",
            "3",
        ]
    )
    assert (
        (old.runtime, old.executor, old.threads)
        == (new.runtime, new.executor, new.threads)
        == ("torch", "dask-local", 3)
    )
    err = capsys.readouterr().err
    assert (
        "--inference-engine is deprecated; use --runtime" in err
        and "--engine is deprecated; use --executor" in err
    )
    assert parser.parse_args(["assess", "x", "--engine", "torch"]).runtime == "torch"
    assert parser.parse_args(["serve", "--engine", "torch"]).runtime == "torch"
    with pytest.warns(DeprecationWarning, match="use runtime="):
        assert artjudge.load("default", engine="onnx").info()["id"]


# ---------------------------------------------------------------- the service: 422, never 500


@needs_extra("serve")
def test_prompt_on_the_base_install_is_422(tmp_path: Path) -> None:
    """A child process where torch and the other extras cannot be imported, as on the base install."""
    site = tmp_path / "site"
    site.mkdir()
    blocked = ("torch", "torchvision", "transformers", "sentence_transformers", "scipy", "sklearn", "pandas")
    (site / "sitecustomize.py").write_text(
        "import sys\n"
        f"BLOCKED = {set(blocked)!r}\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ModuleNotFoundError(f'{name} is blocked', name=name)\n"
        "sys.meta_path.insert(0, _Block())\n"
    )
    script = tmp_path / "probe.py"
    script.write_text(
        "import io, sys\n"
        "from PIL import Image\n"
        "from fastapi.testclient import TestClient\n"
        "from artjudge.serve import Settings, create_app\n"
        "buf = io.BytesIO(); Image.new('RGB', (96, 96), (200, 30, 30)).save(buf, 'PNG')\n"
        "img = buf.getvalue()\n"
        "with TestClient(create_app(Settings(db_url=sys.argv[1])), raise_server_exceptions=False) as c:\n"
        "    for data, extra in (({'prompt': 'a red car'}, {}), ({}, {'reference': ('r.png', img, 'image/png')}), ({}, {})):\n"
        "        r = c.post('/v1/assess', files={'file': ('p.png', img, 'image/png'), **extra}, data=data)\n"
        "        print(r.status_code, r.json().get('detail', 'ok'))\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out = subprocess.run(
        [sys.executable, str(script), f"sqlite:///{tmp_path / 'db.sqlite'}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0] == (
        "422 model 'artjudge-embedded-agiqa' cannot use a prompt: the consistency component needs torch: "
        "pip install 'artjudge[torch]'"
    )
    assert lines[1].startswith("422 model 'artjudge-embedded-agiqa' cannot use a reference")
    assert lines[2] == "200 ok"  # the score itself needs no torch


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if missing_modules("vlm"):
        pytest.skip("needs the [vlm] extra")
    out = tmp_path_factory.mktemp("tiny") / "vlm"
    assert main(["vlm-tiny", str(out)]) == 0
    return out


@needs_extra("serve", "vlm")
def test_prompt_on_a_vlm_is_422_and_one_line_in_python(tiny_vlm: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from artjudge.serve import Settings, create_app

    spec = f"vlm:{tiny_vlm}"
    scorer = load(spec)
    assert {"prompt", "reference"} & set(scorer.info()["capabilities"]) == set()
    (image,) = write_paintings(tmp_path / "imgs", 1)
    with pytest.raises(Unsupported, match="cannot use a prompt: it has no consistency component"):
        scorer.assess(image, prompt="a dog")
    with pytest.raises(Unsupported, match="cannot use a consistency model"):
        load(spec, consistency="clip:/somewhere")
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", models=(spec,), default_model=spec)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        files = {"file": ("p.png", _png(), "image/png")}
        r = client.post("/v1/assess", files=files, data={"prompt": "a red car"})
        assert r.status_code == 422, r.text
        assert (
            r.json()["detail"]
            == f"model {scorer.info()['id']!r} cannot use a prompt: it has no consistency component (use the embedded scorer)"
        )
        ok = client.post("/v1/assess", files={"file": ("p.png", _png(), "image/png")})
        assert ok.status_code == 200 and ok.json()["model"]["id"] == scorer.info()["id"]
