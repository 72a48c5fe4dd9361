"""How much the people agree: the numbers that decide whether a fused score can be trusted.

Ratings: Krippendorff's alpha (ordinal, interval; the ``krippendorff`` package, which
handles missing cells), ICC(2,1) and ICC(2,k) (Shrout & Fleiss two-way random effects, on
the items every kept annotator rated), Kendall's W (with the tie correction), split-half
correlation with the Spearman-Brown step-up, and each annotator's Spearman correlation with
the leave-one-out consensus (the mean of everyone else).

Judgments: each annotator's agreement rate with the leave-one-out Bradley-Terry consensus
(fraction of their non-tie calls that the consensus of the others predicts), and
intransitive (cyclic) triads among the majority preferences.

Flagging rule (documented in docs/preference.md): an annotator is flagged when their
leave-one-out rating correlation is below ``min_rating_srcc`` (default 0.2) or their
judgment agreement is below ``min_agreement`` (default 0.55; chance is 0.5).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import krippendorff
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.stats import rankdata, spearmanr

from artjudge.io.files import finite_or_none
from artjudge.preference.graph import encode


@dataclass
class AnnotatorAgreement:
    annotator: str
    n_ratings: int = 0
    n_judgments: int = 0
    rating_srcc_loo: float = float("nan")
    judgment_agreement_loo: float = float("nan")
    intransitive_rate: float = float("nan")
    flagged: bool = False
    reason: str = ""


@dataclass
class ReliabilityReport:
    n_annotators: int = 0
    n_items: int = 0
    krippendorff_alpha_ordinal: float = float("nan")
    krippendorff_alpha_interval: float = float("nan")
    icc_2_1: float = float("nan")
    icc_2_k: float = float("nan")
    icc_items: int = 0
    kendall_w: float = float("nan")
    split_half_r: float = float("nan")
    split_half_spearman_brown: float = float("nan")
    intransitive_triads: int = 0
    compared_triads: int = 0
    intransitive_rate: float = float("nan")
    annotators: list[AnnotatorAgreement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[str]:
        return [a.annotator for a in self.annotators if a.flagged]

    def to_dict(self) -> dict[str, Any]:
        """Plain types for strict JSON: every statistic that could not be computed is null
        (never NaN) and ``null_reasons`` says why."""
        out = asdict(self)
        out["flagged"] = self.flagged
        out["null_reasons"] = self.null_reasons()
        clean: dict[str, Any] = finite_or_none(out)
        return clean

    def null_reasons(self) -> dict[str, str]:
        """Why each statistic left undefined is undefined."""
        raters = sum(a.n_ratings > 0 for a in self.annotators)
        agreement = (
            f"needs at least 2 annotators rating the same items (there were {raters})"
            if raters < 2
            else "too few items rated by several annotators to compute it"
        )
        why = {
            "krippendorff_alpha_ordinal": agreement,
            "krippendorff_alpha_interval": agreement,
            "icc_2_1": agreement,
            "icc_2_k": agreement,
            "kendall_w": agreement,
            "split_half_r": agreement,
            "split_half_spearman_brown": agreement,
            "intransitive_rate": "no three items were compared in a closed triad",
        }
        return {k: r for k, r in why.items() if not np.isfinite(getattr(self, k))}


def rating_matrix(ratings: pd.DataFrame) -> pd.DataFrame:
    """Annotators x items, mean of repeated ratings, NaN where not rated."""
    return ratings.pivot_table(index="annotator", columns="item", values="score", aggfunc="mean")


def krippendorff_alpha(ratings: pd.DataFrame, level: Literal["ordinal", "interval"] = "interval") -> float:
    m = rating_matrix(ratings)
    if m.shape[0] < 2 or m.notna().sum(axis=0).ge(2).sum() < 1:
        return float("nan")
    values = m.to_numpy(dtype=float)
    if level == "ordinal" and len(np.unique(values[~np.isnan(values)])) < 2:
        return float("nan")
    return float(krippendorff.alpha(reliability_data=values, level_of_measurement=level))


def _complete_block(m: pd.DataFrame) -> pd.DataFrame:
    """Items x annotators with no missing cells: keep annotators who rated at least half the items, then complete items."""
    coverage = m.notna().mean(axis=1)
    keep = m.loc[coverage >= 0.5] if (coverage >= 0.5).sum() >= 2 else m
    return keep.dropna(axis=1).T


def icc(ratings: pd.DataFrame) -> tuple[float, float, int]:
    """ICC(2,1) and ICC(2,k) (Shrout & Fleiss 1979), and the number of items they rest on."""
    x = _complete_block(rating_matrix(ratings)).to_numpy(dtype=float)
    n, k = x.shape if x.ndim == 2 else (0, 0)
    if n < 3 or k < 2:
        return float("nan"), float("nan"), n
    grand = x.mean()
    ss_rows = k * np.sum((x.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((x.mean(axis=0) - grand) ** 2)
    ss_err = np.sum((x - grand) ** 2) - ss_rows - ss_cols
    msr, msc, mse = ss_rows / (n - 1), ss_cols / (k - 1), ss_err / ((n - 1) * (k - 1))
    icc21 = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
    icc2k = (msr - mse) / (msr + (msc - mse) / n)
    return float(icc21), float(icc2k), n


def kendalls_w(ratings: pd.DataFrame) -> float:
    """Kendall's coefficient of concordance over the complete block, with the tie correction."""
    x = _complete_block(rating_matrix(ratings)).to_numpy(dtype=float)
    n, m = x.shape if x.ndim == 2 else (0, 0)
    if n < 2 or m < 2:
        return float("nan")
    ranks = np.column_stack([rankdata(x[:, j]) for j in range(m)])
    r = ranks.sum(axis=1)
    s = np.sum((r - r.mean()) ** 2)
    ties = 0.0
    for j in range(m):
        _, counts = np.unique(x[:, j], return_counts=True)
        ties += np.sum(counts**3 - counts)
    denom = m**2 * (n**3 - n) - m * ties
    return float(12 * s / denom) if denom > 0 else float("nan")


def split_half(ratings: pd.DataFrame, n_splits: int = 20, seed: int = 0) -> tuple[float, float]:
    """Mean Pearson r between item means of two random annotator halves, and its Spearman-Brown step-up."""
    m = rating_matrix(ratings)
    annotators = m.index.to_numpy()
    if len(annotators) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    rs = []
    for _ in range(n_splits):
        perm = rng.permutation(annotators)
        h1, h2 = perm[: len(perm) // 2], perm[len(perm) // 2 :]
        a, b = m.loc[h1].mean(axis=0), m.loc[h2].mean(axis=0)
        ok = a.notna() & b.notna()
        if ok.sum() >= 3 and a[ok].std() > 0 and b[ok].std() > 0:
            rs.append(float(np.corrcoef(a[ok], b[ok])[0, 1]))
    if not rs:
        return float("nan"), float("nan")
    r = float(np.mean(rs))
    return r, float(2 * r / (1 + r)) if r > -1 else float("nan")


def intransitive_triads(judgments: pd.DataFrame) -> tuple[int, int]:
    """(cyclic triads, triads with all three pairs decided) in the majority-preference tournament.

    Counted with sparse matrix products: directed 3-cycles = trace(D^3)/3, triangles of
    decided pairs = trace(U^3)/6, where D[i,j] = 1 when i beat j on balance.
    """
    if judgments.empty:
        return 0, 0
    comp = encode(judgments)
    n = comp.n_items
    net = sparse.coo_matrix((2 * comp.outcome - 1, (comp.a, comp.b)), shape=(n, n)).tocsr()
    net = (net - net.T).tocsr()
    d = (net > 0).astype(np.float64).tocsr()
    u = (d + d.T).tocsr()
    cycles = int(round((d @ d).multiply(d.T).sum() / 3))
    triangles = int(round((u @ u).multiply(u).sum() / 6))
    return cycles, triangles


def _judgment_agreement_loo(judgments: pd.DataFrame, max_refits: int) -> dict[str, float]:
    """Fraction of each annotator's decided calls that a BT fit on everyone else predicts."""
    from artjudge.preference.models import BradleyTerry

    annotators = sorted(judgments["annotator"].unique())
    decided = judgments[judgments["winner"] != "tie"]
    out: dict[str, float] = {}
    full: pd.Series | None = None
    for ann in annotators:
        mine = decided[decided["annotator"] == ann]
        if mine.empty:
            continue
        others = judgments[judgments["annotator"] != ann]
        scores: pd.Series | None = None
        if len(annotators) <= max_refits and not others.empty:
            try:
                scores = BradleyTerry(ties="davidson").fit(others).result_.as_series()
            except Exception:  # the others alone may not connect the graph: fall back below
                scores = None
        if scores is None:
            if full is None:
                full = BradleyTerry(ties="davidson").fit(judgments).result_.as_series()
            scores = full
        sa = mine["item_a"].map(scores).to_numpy(dtype=float)
        sb = mine["item_b"].map(scores).to_numpy(dtype=float)
        ok = np.isfinite(sa) & np.isfinite(sb) & (sa != sb)
        if ok.any():
            said_a = (mine["winner"] == "a").to_numpy()[ok]
            out[ann] = float(np.mean(said_a == (sa[ok] > sb[ok])))
    return out


def reliability_report(
    judgments: pd.DataFrame | None = None,
    ratings: pd.DataFrame | None = None,
    *,
    min_rating_srcc: float = 0.2,
    min_agreement: float = 0.55,
    max_refits: int = 40,
    seed: int = 0,
) -> ReliabilityReport:
    """All the agreement statistics for one dimension's judgments and/or ratings."""
    rep = ReliabilityReport()
    people: dict[str, AnnotatorAgreement] = {}
    items: set[str] = set()

    def person(name: str) -> AnnotatorAgreement:
        return people.setdefault(name, AnnotatorAgreement(annotator=name))

    if ratings is not None and not ratings.empty:
        items |= set(ratings["item"])
        rep.krippendorff_alpha_interval = krippendorff_alpha(ratings, "interval")
        rep.krippendorff_alpha_ordinal = krippendorff_alpha(ratings, "ordinal")
        rep.icc_2_1, rep.icc_2_k, rep.icc_items = icc(ratings)
        if rep.icc_items < 3:
            rep.notes.append("ICC and Kendall's W need >= 3 items rated by every kept annotator")
        rep.kendall_w = kendalls_w(ratings)
        rep.split_half_r, rep.split_half_spearman_brown = split_half(ratings, seed=seed)
        m = rating_matrix(ratings)
        for ann in m.index:
            p = person(str(ann))
            mine = m.loc[ann]
            others = m.drop(index=ann).mean(axis=0)
            ok = mine.notna() & others.notna()
            p.n_ratings = int(mine.notna().sum())
            if ok.sum() >= 3 and mine[ok].nunique() > 1 and others[ok].nunique() > 1:
                p.rating_srcc_loo = float(spearmanr(mine[ok], others[ok])[0])
    if judgments is not None and not judgments.empty:
        items |= set(judgments["item_a"]) | set(judgments["item_b"])
        rep.intransitive_triads, rep.compared_triads = intransitive_triads(judgments)
        if rep.compared_triads:
            rep.intransitive_rate = rep.intransitive_triads / rep.compared_triads
        counts = judgments["annotator"].value_counts()
        counts = counts[counts > 0]  # a categorical column also counts the annotators of other subsets
        for ann, c in counts.items():
            person(str(ann)).n_judgments = int(c)
        for ann, rate in _judgment_agreement_loo(judgments, max_refits).items():
            person(str(ann)).judgment_agreement_loo = rate
        for ann, sub in judgments.groupby("annotator", observed=True):
            cyc, tri = intransitive_triads(sub)
            if tri:
                person(str(ann)).intransitive_rate = cyc / tri
        single = [a for a, c in counts.items() if c == 1]
        if single:
            rep.notes.append(f"{len(single)} annotator(s) with a single judgment: agreement not assessable")
    for p in people.values():
        reasons = []
        if np.isfinite(p.rating_srcc_loo) and p.rating_srcc_loo < min_rating_srcc:
            reasons.append(f"rating SRCC with the others {p.rating_srcc_loo:.2f} < {min_rating_srcc}")
        if (
            np.isfinite(p.judgment_agreement_loo)
            and p.judgment_agreement_loo < min_agreement
            and p.n_judgments >= 5
        ):
            reasons.append(
                f"agrees with the others' consensus on {p.judgment_agreement_loo:.0%} < {min_agreement:.0%}"
            )
        p.flagged = bool(reasons)
        p.reason = "; ".join(reasons)
    rep.annotators = sorted(people.values(), key=lambda p: p.annotator)
    rep.n_annotators = len(people)
    rep.n_items = len(items)
    return rep
