"""LoRA fine-tuning of a VLM to score and describe art: ArtiMuse's and ArtQuant's recipes.

Stages (each its own LoRA on the language model, merged into the weights before the next):

* ``text``  ArtiMuse stage 1: language-model CE on descriptions and attribute analyses (rank 16).
* ``score`` ArtiMuse stage 2: CE to the score token after the answer prefix (rank 128).
* ``mat``   ArtQuant multi-task training: description CE + KL of the score tokens to the soft label.
* ``sot``   ArtQuant score-only training: CE on the answer prefix + KL to the soft label.

Score stages also train ``attr.<key>`` columns (as attribute prompts) and, with
``levels=True``, Level-As-Score. Checkpoints every ``save_every`` optimizer steps hold
the adapter, the optimizer and the loss history, so ``resume=True`` continues exactly.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from artjudge.errors import InputError
from artjudge.io import load_image
from artjudge.io.files import atomic_dir, atomic_write_json
from artjudge.models.vlm.backbone import Sample, load_backbone
from artjudge.models.vlm.core import VLM, VLMMeta, apply_adapters, new_tokens, soft_target, write_meta
from artjudge.models.vlm.tokens import save_tokens
from artjudge.models.weights import load_weights_file, save_weights_file
from artjudge.scoring import score_to_levels
from artjudge.scoring.losses import kl_loss
from artjudge.taxonomy import LEVELS
from artjudge.train.vlm_data import Row, load_rows

STAGES: tuple[str, ...] = ("text", "score", "mat", "sot")
RECIPES: dict[str, list[tuple[str, int]]] = {
    "artimuse": [("text", 16), ("score", 128)],
    "artquant": [("mat", 64), ("sot", 64)],
}
LORA_TARGETS = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)$"
STATE_FILE = "train_state.json"


@dataclass
class VLMTrainConfig:
    """Everything ``artjudge train-vlm`` sets; parameters are named as on the command line."""

    base: str
    manifest: str
    out: str
    recipe: str = "artimuse"
    stages: list[str] | None = None
    ranks: list[int] | None = None
    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 2
    grad_accum: int = 1
    lr: float = 1e-4
    weight_decay: float = 0.0
    warmup_steps: int = 0
    lora_alpha: int | None = None
    lora_dropout: float = 0.05
    train_vision: bool = False
    train_projector: bool = False
    levels: bool = False
    attributes: list[str] | None = None
    split: str | None = "train"
    images_root: str | None = None
    limit: int | None = None
    save_every: int = 50
    keep_checkpoints: int = 2
    resume: bool = False
    merge: bool = False
    dtype: str = "auto"
    device: str = "auto"
    resolution: int = 448
    allow_download: bool = False
    gradient_checkpointing: bool = False
    seed: int = 0
    ce_weight: float = 1.0
    score_weight: float = 1.0
    max_text_tokens: int = 384
    progress: bool = True

    def plan(self) -> list[tuple[str, int]]:
        if self.recipe not in RECIPES and not self.stages:
            raise InputError("--recipe", f"{self.recipe!r} is not one of {', '.join(RECIPES)}")
        plan = list(RECIPES.get(self.recipe, []))
        if self.stages:
            bad = [s for s in self.stages if s not in STAGES]
            if bad:
                raise InputError("--stages", f"unknown stage(s) {', '.join(bad)}; known: {', '.join(STAGES)}")
            default = {"text": 16, "score": 128, "mat": 64, "sot": 64}
            plan = [(s, default[s]) for s in self.stages]
        if self.ranks:
            if len(self.ranks) != len(plan):
                raise InputError("--ranks", f"gives {len(self.ranks)} ranks for {len(plan)} stages")
            plan = [(s, int(r)) for (s, _), r in zip(plan, self.ranks, strict=True)]
        return plan


@dataclass
class _Item:
    sample: Sample
    kind: str  # "text" | "score" | "level"
    target: np.ndarray | None = None


@dataclass
class StageResult:
    name: str
    rank: int
    steps: int
    history: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0
    adapter: str = ""


def _items_for(vlm: VLM, stage: str, row: Row, cfg: VLMTrainConfig, attributes: list[str]) -> list[_Item]:
    """The sequences one manifest row contributes to a stage."""
    img = load_image(row.path).image
    items: list[_Item] = []
    if stage in ("text", "mat"):
        if row.text:
            items.append(_Item(_clip(vlm, vlm.text_sample(img, row.text), cfg), "text"))
        for key, text in row.texts.items():
            s = (
                vlm.text_sample(img, text, level=key)
                if key in LEVELS
                else vlm.text_sample(img, text, attribute=key)
            )
            items.append(_Item(_clip(vlm, s, cfg), "text"))
    if stage in ("score", "mat", "sot") and row.score is not None:
        hard = stage == "score"
        prefix = stage != "mat"
        targets: list[tuple[str | None, float, float | None]] = [(None, row.score, row.std)]
        targets += [(a, row.attrs[a], None) for a in attributes if a in row.attrs]
        for attr, score, std in targets:
            s = vlm.score_sample(img, score, attribute=attr, prefix_loss=prefix, token_loss=hard)
            items.append(_Item(s, "score", None if hard else soft_target(score, std)))
        if cfg.levels and vlm.level_tokens is not None:
            s = vlm.level_sample(img, row.score, token_loss=hard)
            std = row.std if row.std and math.isfinite(row.std) and row.std > 0 else None
            items.append(_Item(s, "level", None if hard else score_to_levels(row.score, std)))
    return items


def _clip(vlm: VLM, s: Sample, cfg: VLMTrainConfig) -> Sample:
    if len(s.answer_ids) > cfg.max_text_tokens:
        s.answer_ids = s.answer_ids[: cfg.max_text_tokens]
        s.loss_mask = s.loss_mask[: cfg.max_text_tokens]
    return s


def batch_loss(vlm: VLM, items: list[_Item], cfg: VLMTrainConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """CE on the answer tokens that carry it, plus KL of score/level tokens to soft labels."""
    enc = vlm.encoder.encode([it.sample for it in items])
    inputs = vlm.encoder.to_device(enc["inputs"])
    dev = vlm.backbone.device
    use_amp = dev.startswith("cuda") and vlm.backbone.dtype != torch.float32
    with torch.autocast(device_type="cuda", dtype=vlm.backbone.dtype, enabled=use_amp):
        logits = vlm.model(**inputs).logits
    labels = enc["labels"].to(logits.device)
    total = logits.new_zeros((), dtype=torch.float32)
    parts: dict[str, float] = {}
    shift = labels[:, 1:]
    if (shift != -100).any():
        ce = F.cross_entropy(
            logits[:, :-1].float().reshape(-1, logits.shape[-1]), shift.reshape(-1), ignore_index=-100
        )
        total = total + cfg.ce_weight * ce
        parts["ce"] = float(ce.detach())
    pos = enc["score_pos"].to(logits.device)
    for kind, ids in (
        ("score", vlm.score_tokens.ids),
        ("level", vlm.level_tokens.ids if vlm.level_tokens else []),
    ):
        idx = [i for i, it in enumerate(items) if it.kind == kind and it.target is not None]
        if not idx:
            continue
        ii = torch.tensor(idx, device=logits.device)
        rows = logits[ii, pos[ii]][:, torch.tensor(ids, device=logits.device)].float()
        tgt = torch.tensor(
            np.stack([np.asarray(items[i].target) for i in idx]), dtype=torch.float32, device=logits.device
        )
        kl = kl_loss(rows, tgt)
        total = total + cfg.score_weight * kl
        parts[f"kl_{kind}"] = float(kl.detach())
    return total, parts


def _lora_config(cfg: VLMTrainConfig, rank: int, family: str, model: Any = None) -> Any:
    from peft import LoraConfig

    save: list[str] = []
    if cfg.train_vision:
        save.append("visual" if family == "qwen" else "vision_tower")
    if cfg.train_projector and not (cfg.train_vision and family == "qwen"):
        # Qwen3-VL also projects intermediate vision layers (DeepStack): part of the projector
        if family == "qwen":
            save.append("merger")
            if model is not None:
                save += [
                    n.split("visual.", 1)[-1]
                    for n, _ in model.named_modules()
                    if re.search(r"deepstack_merger_list\.\d+$", n)
                ]
        else:
            save.append("multi_modal_projector")
    return LoraConfig(
        r=rank,
        lora_alpha=int(cfg.lora_alpha or 2 * rank),
        lora_dropout=cfg.lora_dropout,
        target_modules=LORA_TARGETS,
        modules_to_save=save or None,
        bias="none",
    )


def _latest_checkpoint(folder: Path) -> Path | None:
    if not folder.is_dir():
        return None
    steps = sorted(
        (int(p.name.split("-")[1]), p) for p in folder.glob("step-*") if p.name.split("-")[1].isdigit()
    )
    return steps[-1][1] if steps else None


def _save_checkpoint(
    model: Any,
    opt: torch.optim.Optimizer,
    sched: Any,
    folder: Path,
    step: int,
    history: list[tuple[int, float]],
    keep: int,
) -> None:
    with atomic_dir(folder / f"step-{step}", replace=True) as tmp:  # the run's own checkpoint
        model.save_pretrained(str(tmp))
        save_weights_file(
            tmp / "trainer_state.pt",
            {
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "step": step,
                "history": history,
                "torch_rng": torch.get_rng_state(),
            },
        )
    old = sorted((int(p.name.split("-")[1]), p) for p in folder.glob("step-*"))
    for _, p in old[:-keep] if keep > 0 else []:
        shutil.rmtree(p, ignore_errors=True)


def _load_checkpoint(model: Any, opt: torch.optim.Optimizer, sched: Any, ckpt: Path) -> tuple[int, list]:
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = ckpt / "adapter_model.safetensors"
    set_peft_model_state_dict(model, load_file(str(weights)))
    state = load_weights_file(ckpt / "trainer_state.pt")  # plain types and tensors: weights_only=True
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    return int(state["step"]), [tuple(x) for x in state["history"]]


def _run_stage(
    vlm: VLM,
    stage: str,
    rank: int,
    tag: str,
    rows: list[Row],
    cfg: VLMTrainConfig,
    attributes: list[str],
    out: Path,
    on_step: Callable[[int, float], None] | None,
) -> StageResult:
    from peft import get_peft_model
    from tqdm import tqdm

    model = get_peft_model(vlm.model, _lora_config(cfg, rank, vlm.backbone.family, vlm.model))
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    vlm.backbone.model = model
    usable = [
        r
        for r in rows
        if (stage in ("text", "mat") and (r.text or r.texts))
        or (stage in ("score", "mat", "sot") and r.score is not None)
    ]
    if not usable:
        need = "'text' or 'text.<key>' columns" if stage == "text" else "a 'score' column"
        raise InputError(cfg.manifest, f"stage {stage!r} needs {need}, and no row has it")
    n_batches = math.ceil(len(usable) / cfg.batch_size)
    total = cfg.max_steps or max(1, math.ceil(cfg.epochs * n_batches / cfg.grad_accum))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    warm = max(0, cfg.warmup_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) if warm else 1.0)
    ckpt_dir = out / "checkpoints" / tag
    step = 0
    history: list[tuple[int, float]] = []
    if cfg.resume and (ck := _latest_checkpoint(ckpt_dir)) is not None:
        step, history = _load_checkpoint(model, opt, sched, ck)
    model.train()
    t0 = time.perf_counter()
    bar = tqdm(total=total, initial=step, disable=not cfg.progress, desc=f"{tag} (r={rank})", unit="step")
    while step < total:
        opt.zero_grad(set_to_none=True)
        acc = 0.0
        for k in range(cfg.grad_accum):
            m = step * cfg.grad_accum + k  # micro-batch index: resumes at the same data
            epoch, b = divmod(m, n_batches)
            order = np.random.default_rng(cfg.seed + epoch).permutation(len(usable))
            batch_rows = [usable[i] for i in order[b * cfg.batch_size : (b + 1) * cfg.batch_size]]
            items = [it for r in batch_rows for it in _items_for(vlm, stage, r, cfg, attributes)]
            loss, _ = batch_loss(vlm, items, cfg)
            (loss / cfg.grad_accum).backward()
            acc += float(loss.detach()) / cfg.grad_accum
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        step += 1
        history.append((step, acc))
        if on_step:
            on_step(step, acc)
        bar.set_postfix(loss=f"{acc:.4f}")
        bar.update(1)
        if cfg.save_every and step % cfg.save_every == 0 and step < total:
            _save_checkpoint(model, opt, sched, ckpt_dir, step, history, cfg.keep_checkpoints)
    bar.close()
    seconds = time.perf_counter() - t0
    adapter = out / "adapters" / tag
    with atomic_dir(adapter, replace=True) as tmp:  # this run's own stage folder
        model.save_pretrained(str(tmp))
    vlm.backbone.model = model.merge_and_unload()
    vlm.backbone.model.eval()
    return StageResult(stage, rank, step, history, seconds, f"adapters/{tag}")


def _open_state(cfg: VLMTrainConfig, out: Path) -> tuple[Path, dict[str, Any]]:
    """The run's state file: a resumed run's, else a new one (an earlier run without --resume is
    refused); written at once, so from now on a fresh run into this folder is refused."""
    state_path = out / STATE_FILE
    state: dict[str, Any] = {"config": asdict(cfg), "completed": []}
    if cfg.resume and state_path.is_file():
        state = json.loads(state_path.read_text(encoding="utf-8"))
        state["config"] = asdict(cfg)
    elif not cfg.resume and state_path.is_file():
        raise InputError(
            str(out), "holds a previous training run; pass --resume to continue it or use a new --out"
        )
    atomic_write_json(state_path, state, indent=1, ensure_ascii=True)
    return state_path, state


def train_vlm(
    cfg: VLMTrainConfig, on_step: Callable[[str, int, float], None] | None = None
) -> dict[str, Any]:
    """Run every stage of ``cfg``; return a summary (stages, steps, loss histories, paths)."""
    torch.manual_seed(cfg.seed)
    plan = cfg.plan()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = load_rows(cfg.manifest, split=cfg.split, images_root=cfg.images_root, limit=cfg.limit)
    present = sorted({a for r in rows for a in r.attrs})
    attributes = present if cfg.attributes is None else [a for a in cfg.attributes if a in present]
    bb = load_backbone(
        cfg.base,
        dtype=cfg.dtype,
        device=cfg.device,
        resolution=cfg.resolution,
        allow_download=cfg.allow_download,
    )
    state_path, state = _open_state(cfg, out)
    score, level = new_tokens(bb)
    save_tokens(out, score, level)
    done = {s["tag"]: s for s in state["completed"]}
    bb.model = apply_adapters(bb.model, out, [s["adapter"] for s in state["completed"]])
    vlm = VLM(
        bb,
        score,
        level,
        VLMMeta(base=os.path.abspath(cfg.base) if os.path.isdir(cfg.base) else cfg.base),
        str(out),
    )
    results: list[dict[str, Any]] = []
    for i, (stage, rank) in enumerate(plan):
        tag = f"{i + 1}-{stage}"
        if tag in done:
            results.append(done[tag])
            continue
        cb = (lambda s, v, _st=stage: on_step(_st, s, v)) if on_step else None
        res = _run_stage(vlm, stage, rank, tag, rows, cfg, attributes, out, cb)
        entry = {
            "tag": tag,
            "stage": stage,
            "rank": rank,
            "steps": res.steps,
            "adapter": res.adapter,
            "seconds": res.seconds,
            "history": res.history,
            "first_loss": res.history[0][1] if res.history else None,
            "last_loss": res.history[-1][1] if res.history else None,
        }
        state["completed"].append(entry)
        atomic_write_json(state_path, state, indent=1, ensure_ascii=True)
        results.append(entry)
    stages = [s for s, _ in plan]
    scored = any(s in ("score", "mat", "sot") for s in stages)
    meta = VLMMeta(
        base=vlm.meta.base,
        family=bb.family,
        model_type=bb.model_type,
        resolution=bb.resolution,
        adapters=[r["adapter"] for r in results],
        stages=[
            {k: r[k] for k in ("tag", "stage", "rank", "steps", "first_loss", "last_loss")} for r in results
        ],
        attributes=attributes if scored else [],
        levels=bool(cfg.levels and scored and level is not None),
        overall=scored,
        text=any(s in ("text", "mat") for s in stages),
        version=time.strftime("%Y%m%d-%H%M%S"),
    )
    write_meta(out, meta)
    summary: dict[str, Any] = {"out": str(out), "stages": results, "meta": meta.to_dict()}
    if cfg.merge:
        summary["merged"] = str(merge_into(vlm, out / "merged", meta))
    return summary


def merge_into(vlm: VLM, folder: Path, meta: VLMMeta, *, replace: bool = True) -> Path:
    """Write the LoRA-merged model as a plain checkpoint (loadable without peft).

    The folder is built beside ``folder``, sealed, and swapped in whole; an existing
    ``folder`` with files in it is replaced only when ``replace`` (see ``io.files.atomic_dir``).
    """
    from artjudge.models.weights import seal_folder

    with atomic_dir(folder, replace=replace) as tmp:
        vlm.model.save_pretrained(str(tmp))
        vlm.tokenizer.save_pretrained(str(tmp))
        vlm.backbone.image_processor.save_pretrained(str(tmp))
        save_tokens(tmp, vlm.score_tokens, vlm.level_tokens)
        merged = VLMMeta(**{**meta.to_dict(), "base": ".", "adapters": []})
        write_meta(tmp, merged)
        seal_folder(tmp)
    return folder


def merge_checkpoint(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    replace: bool = False,
    **kw: Any,
) -> Path:
    """Merge a trained folder's adapters into its base and save the result (default PATH/merged).

    An existing, non-empty ``out`` is refused unless ``replace`` (the CLI's ``--force``).
    """
    from artjudge.models.vlm.core import load_vlm

    vlm = load_vlm(path, **kw)
    return merge_into(vlm, Path(out) if out else Path(path) / "merged", vlm.meta, replace=replace)
