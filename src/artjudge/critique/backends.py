"""Chat backends for the description pipeline and the text judge.

Two kinds, one method (``chat(messages, images) -> str``):

* ``OpenAIChat``: any OpenAI-compatible ``/v1/chat/completions`` endpoint (vLLM,
  llama.cpp server, Ollama, a hosted API). Images travel as base64 data URLs. Transient
  failures (connection errors, timeouts, HTTP 429/5xx, malformed replies) are retried with
  exponential backoff; after the last attempt a ``BackendError`` names the endpoint and the
  last reason.
* ``TransformersChat``: a local ``transformers`` causal LM from a path (text only; images
  are described as absent in the prompt rather than silently dropped).

``backend_from_spec("http://host:8000/v1")`` or ``backend_from_spec("hf:/path/to/model")``
builds one from a command-line string.
"""

from __future__ import annotations

import base64
import io
import os
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from artjudge.errors import ArtjudgeError, ModelNotAvailable


class BackendError(ArtjudgeError):
    """A model endpoint that failed after its retries, with the reason."""


class ChatBackend(Protocol):
    name: str

    def chat(self, messages: list[dict[str, Any]], images: list[bytes] | None = None) -> str: ...


def image_to_data_url(data: bytes) -> str:
    """Encode image bytes as a data URL; re-encodes to JPEG when the format is unknown."""
    mime = (
        "image/png"
        if data[:8] == b"\x89PNG\r\n\x1a\n"
        else ("image/jpeg" if data[:3] == b"\xff\xd8\xff" else "")
    )
    if not mime:
        from artjudge.io.images import load_image  # the one decoder: same limits and conversions

        buf = io.BytesIO()
        load_image(data).image.save(buf, format="JPEG", quality=90)
        data, mime = buf.getvalue(), "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _attach_images(messages: list[dict[str, Any]], images: list[bytes] | None) -> list[dict[str, Any]]:
    """Put images into the last user message as OpenAI ``image_url`` content parts."""
    if not images:
        return messages
    out = [dict(m) for m in messages]
    for m in reversed(out):
        if m.get("role") == "user":
            text = m.get("content", "")
            parts: list[dict[str, Any]] = (
                [{"type": "text", "text": text}] if isinstance(text, str) else list(text)
            )
            parts += [{"type": "image_url", "image_url": {"url": image_to_data_url(b)}} for b in images]
            m["content"] = parts
            break
    return out


@dataclass
class OpenAIChat:
    """An OpenAI-compatible chat endpoint, with retries and exponential backoff."""

    url: str
    model: str = "default"
    api_key: str | None = None
    timeout: float = 120.0
    retries: int = 4
    backoff: float = 1.0
    max_tokens: int = 768
    temperature: float = 0.7
    name: str = field(default="", init=False)

    def __post_init__(self) -> None:
        base = self.url.rstrip("/")
        if not base.endswith("/chat/completions"):
            base = base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")
        self.endpoint = base
        self.name = f"{self.model}@{self.url}"
        if self.api_key is None:
            self.api_key = os.environ.get("ARTJUDGE_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")

    def chat(self, messages: list[dict[str, Any]], images: list[bytes] | None = None) -> str:
        import httpx

        payload = {
            "model": self.model,
            "messages": _attach_images(messages, images),
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        last = "no attempt made"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                resp = httpx.post(self.endpoint, json=payload, headers=headers, timeout=self.timeout)
            except httpx.HTTPError as err:
                last = f"{type(err).__name__}: {err}"
                continue
            if resp.status_code == 429 or resp.status_code >= 500:
                last = f"HTTP {resp.status_code}: {resp.text[:200]}"
                continue
            if resp.status_code >= 400:
                raise BackendError(f"{self.endpoint}: HTTP {resp.status_code}: {resp.text[:200]}")
            try:
                return str(resp.json()["choices"][0]["message"]["content"])
            except (ValueError, KeyError, IndexError, TypeError):
                last = f"malformed reply: {resp.text[:200]!r}"
                continue
        raise BackendError(f"{self.endpoint}: failed after {self.retries + 1} attempts; last error: {last}")


class TransformersChat:
    """A local causal LM through ``transformers`` (text only), loaded from a path or hub id."""

    def __init__(self, path: str, max_new_tokens: int = 256, temperature: float = 0.0) -> None:
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as err:  # pragma: no cover - transformers is a listed extra
            raise ModelNotAvailable(
                f"hf:{path}: transformers is not installed (pip install 'artjudge[vlm]')"
            ) from err
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model: Any = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError) as err:
            raise ModelNotAvailable(
                f"hf:{path}: cannot load a local causal LM there ({err.__class__.__name__}); "
                "point --generator/--judge at a folder with config.json, weights and a tokenizer"
            ) from None
        self.model.eval()
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.name = f"hf:{path}"

    def _prompt(self, messages: list[dict[str, Any]], images: list[bytes] | None) -> str:
        msgs = [dict(m) for m in messages]
        if images:
            msgs[-1]["content"] = (
                str(msgs[-1]["content"]) + "\n(The image is not shown to this text-only model.)"
            )
        if getattr(self.tokenizer, "chat_template", None):
            return str(self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True))
        return "\n".join(f"{m['role']}: {m['content']}" for m in msgs) + "\nassistant:"

    def chat(self, messages: list[dict[str, Any]], images: list[bytes] | None = None) -> str:
        import torch

        prompt = self._prompt(messages, images)
        enc = self.tokenizer(prompt, return_tensors="pt")
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "do_sample": self.temperature > 0}
        if self.temperature > 0:
            kwargs["temperature"] = self.temperature
        pad = (
            self.tokenizer.pad_token_id
            if self.tokenizer.pad_token_id is not None
            else self.tokenizer.eos_token_id
        )
        with torch.no_grad():
            out = self.model.generate(**enc, pad_token_id=pad, **kwargs)
        return str(
            self.tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        ).strip()


def backend_from_spec(
    spec: str, *, model: str = "default", retries: int = 4, backoff: float = 1.0, timeout: float = 120.0
) -> ChatBackend:
    """``http(s)://...`` for an OpenAI-compatible endpoint, ``hf:PATH`` for a local model."""
    if spec.startswith(("http://", "https://")):
        return OpenAIChat(spec, model=model, retries=retries, backoff=backoff, timeout=timeout)
    if spec.startswith("hf:"):
        return TransformersChat(spec[3:])
    raise ArtjudgeError(f"{spec!r}: a model must be an http(s):// endpoint URL or hf:PATH")
