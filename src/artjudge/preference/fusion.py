"""Fusion of preferences with ratings: ratings anchor the level, preferences the order.

Per dimension (and per annotator group when asked), the latent preference scores are
mapped onto the rating scale by a weighted affine fit on the items that have both; the
mapped preference and the item's mean rating are then combined by inverse-variance
weighting. The mapped preference carries its own error (slope x latent SE) plus the
map's lack of fit (tau^2, estimated from the residuals beyond what rating noise explains),
so an item rated by many people leans on its ratings and a sparsely rated one on the order.

Two independent constructions (annotators split at random into halves, each fused on its
own) tell how reproducible the result is: :func:`split_half_constructions`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import pearsonr, spearmanr

from artjudge.errors import InputError
from artjudge.preference.graph import DisconnectedGraphError, components, encode
from artjudge.preference.models import Z95, PreferenceScores, make_model

ComponentsMode = Literal["refuse", "separate"]


def fit_latent(
    judgments: pd.DataFrame,
    method: str = "bt",
    components_mode: ComponentsMode = "refuse",
    **model_kwargs: Any,
) -> pd.DataFrame:
    """Latent scores for one dimension: item, score, se, lower, upper, n_comparisons, component.

    A disconnected graph raises :class:`DisconnectedGraphError` (naming the components)
    unless ``components_mode="separate"``, where each component is scored on its own
    (its own centring: scores from different components are not comparable).
    """
    comp = encode(judgments)
    groups = components(comp)
    del comp  # the model encodes its own copy; two at once doubled the per-row arrays (issue 18)
    if len(groups) > 1 and components_mode != "separate":
        raise DisconnectedGraphError("judgments", groups)
    frames = []
    for k, members in enumerate(groups):
        sub = judgments if len(groups) == 1 else judgments[judgments["item_a"].isin(set(members))]
        if len(members) < 2:
            continue
        res: PreferenceScores = make_model(method, **model_kwargs).fit(sub).result_
        frame = res.to_frame()
        frame["component"] = k + 1
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out.attrs["n_components"] = len(groups)
    return out


def _rating_stats(ratings: pd.DataFrame) -> pd.DataFrame:
    """Mean rating per item with the variance of that mean (pooled within-item variance when n=1)."""
    g = ratings.groupby("item")["score"]
    stats = pd.DataFrame({"rating_mean": g.mean(), "n_ratings": g.size(), "rating_var": g.var(ddof=1)})
    multi = stats["n_ratings"] >= 2
    pooled = float(stats.loc[multi, "rating_var"].mean()) if multi.any() else float("nan")
    # Empirical-Bayes shrinkage towards the pooled variance (2 pseudo-ratings): three equal
    # integer ratings do not mean the item's mean is known exactly.
    k0 = 2.0
    own = stats["rating_var"].fillna(pooled)
    stats["rating_var"] = (k0 * pooled + (stats["n_ratings"] - 1) * own) / (k0 + stats["n_ratings"] - 1)
    stats["rating_se2"] = stats["rating_var"] / stats["n_ratings"]
    return stats


@dataclass
class AffineMap:
    """rating ~ offset[component] + slope * latent, with the map's extra variance tau2.

    One slope for all components (the latent unit is the same everywhere); each component
    has its own offset, since preferences alone never tie separate components together.
    ``intercept`` is the offset of the first (largest) component.
    """

    intercept: float
    slope: float
    tau2: float
    n_items: int
    offsets: dict[int, float] = field(default_factory=dict)


def fit_affine_map(
    latent: np.ndarray,
    latent_se: np.ndarray,
    rating: np.ndarray,
    rating_se2: np.ndarray,
    component: np.ndarray | None = None,
) -> AffineMap:
    """Weighted least squares, re-weighted a few times as slope and tau^2 settle."""
    n = len(latent)
    comp = np.ones(n, dtype=int) if component is None else np.asarray(component, dtype=int)
    labels = sorted(set(comp.tolist()))
    if n < len(labels) + 2:
        raise InputError(
            "ratings",
            f"need ratings on at least {len(labels) + 2} compared items to anchor the scale (have {n})",
        )
    if np.ptp(latent) == 0:
        raise InputError("judgments", "all latent scores are equal: preferences carry no order to map")
    design = np.column_stack([latent] + [(comp == k).astype(float) for k in labels])
    se2 = np.where(np.isfinite(rating_se2), rating_se2, np.nan)

    def solve(w: np.ndarray) -> np.ndarray:
        sw = np.sqrt(w)
        coef, *_ = np.linalg.lstsq(design * sw[:, None], rating * sw, rcond=None)
        return coef

    coef = solve(np.ones(n))
    resid = rating - design @ coef
    if np.isnan(se2).all():  # every item rated once and no pooled variance: charge it all to the ratings
        se2 = np.full(n, max(float(np.mean(resid**2)), 1e-12))
    se2 = np.where(np.isnan(se2), np.nanmean(se2), se2)
    tau2 = 0.0
    for _ in range(5):
        slope = coef[0]
        resid = rating - design @ coef
        tau2 = max(0.0, float(np.mean(resid**2 - se2 - slope**2 * latent_se**2)))
        coef = solve(1.0 / np.maximum(se2 + slope**2 * latent_se**2 + tau2, 1e-12))
    offsets = {int(k): float(v) for k, v in zip(labels, coef[1:], strict=True)}
    return AffineMap(offsets[labels[0]], float(coef[0]), tau2, n, offsets)


@dataclass
class FusionResult:
    """One row per (dimension, group, item); ``maps`` keyed by 'dimension/group'."""

    frame: pd.DataFrame
    maps: dict[str, AffineMap] = field(default_factory=dict)
    joint: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class RatingFusion:
    """Fuse pairwise judgments (and optional ratings) into scores with intervals.

    method: bt | thurstone | elo. scale: the rating scale (lo, hi): ratings outside refuse,
    fused intervals are clipped to it. group_column: a column present in both tables that
    splits annotators into groups fused separately (e.g. experts vs crowd). link: "joint" (one
    model for judgments and ratings, :mod:`artjudge.preference.joint`; bt and thurstone) or
    "affine" (map the latent scores onto the ratings, then inverse-variance weighting; any
    method; the one used for elo). unjudged: rated
    items that no judgment touches are refused (default) or kept with their ratings alone.
    """

    def __init__(
        self,
        method: str = "bt",
        scale: tuple[float, float] | None = None,
        components: ComponentsMode = "refuse",
        group_column: str | None = None,
        model_kwargs: dict[str, Any] | None = None,
        unjudged: Literal["refuse", "ratings-only"] = "refuse",
        link: Literal["joint", "affine"] = "joint",
    ) -> None:
        self.unjudged = unjudged
        self.link = link
        self.method = method
        self.scale = scale
        self.components = components
        self.group_column = group_column
        self.model_kwargs = model_kwargs or {}

    def _keys(self, df: pd.DataFrame | None) -> list[tuple[str, str]]:
        if df is None:
            return []
        groups = df[self.group_column].astype(str) if self.group_column else pd.Series("all", index=df.index)
        return sorted(set(zip(df["dimension"].astype(str), groups, strict=True)))

    def _select(self, df: pd.DataFrame, dim: str, group: str) -> pd.DataFrame:
        mask = df["dimension"].astype(str) == dim
        if self.group_column:
            mask &= df[self.group_column].astype(str) == group
        return df[mask]

    def fit(self, judgments: pd.DataFrame, ratings: pd.DataFrame | None = None) -> RatingFusion:
        for name, df in (("judgments", judgments), ("ratings", ratings)):
            if df is not None and self.group_column and self.group_column not in df.columns:
                raise InputError(name, f"no column {self.group_column!r} to group annotators by")
        frames: list[pd.DataFrame] = []
        result = FusionResult(pd.DataFrame())
        rating_keys = set(self._keys(ratings))
        for dim, group in self._keys(judgments):
            sub = self._select(judgments, dim, group)
            latent = fit_latent(sub, self.method, self.components, **self.model_kwargs)
            if latent.attrs.get("n_components", 1) > 1:
                result.notes.append(
                    f"{dim}/{group}: {latent.attrs['n_components']} components scored separately; "
                    "latent scores are comparable only within a component"
                )
            latent.insert(0, "group", group)
            latent.insert(0, "dimension", dim)
            latent = latent.rename(
                columns={
                    "score": "latent",
                    "se": "latent_se",
                    "lower": "latent_lower",
                    "upper": "latent_upper",
                }
            )
            if ratings is not None and (dim, group) in rating_keys:
                rsub = self._select(ratings, dim, group)
                never = sorted(set(rsub["item"]) - set(latent["item"]))
                if never and self.unjudged == "refuse":
                    shown = ", ".join(never[:5]) + (f" (+{len(never) - 5} more)" if len(never) > 5 else "")
                    raise InputError(
                        "ratings", f"{len(never)} rated item(s) never compared in dimension {dim!r}: {shown}"
                    )
                if self.link == "joint" and self.method in ("bt", "thurstone"):
                    from artjudge.preference.joint import JointFusion

                    kw = {k: v for k, v in self.model_kwargs.items() if k == "alpha"}
                    mode: Literal["refuse", "drop"] = "drop" if self.unjudged == "ratings-only" else "refuse"
                    joint = JointFusion(self.method, scale=self.scale, unanchored=mode, **kw).fit(sub, rsub)
                    result.joint[f"{dim}/{group}"] = joint.params_
                    result.notes += [f"{dim}/{group}: {n}" for n in joint.notes_]
                    if joint.dropped_:
                        result.notes.append(
                            f"{dim}/{group}: {len(joint.dropped_)} compared item(s) without any "
                            "rated item in their component were left out"
                        )
                    frame = joint.result_
                    frame.insert(0, "group", group)
                    frame.insert(0, "dimension", dim)
                    latent = frame
                else:
                    latent = self._fuse_one(latent, _rating_stats(rsub), f"{dim}/{group}", result)
            else:
                latent["fused"] = latent["latent"]
                latent["fused_se"] = latent["latent_se"]
                latent["lower"] = latent["latent_lower"]
                latent["upper"] = latent["latent_upper"]
            frames.append(latent)
        if ratings is not None:
            missing = rating_keys - set(self._keys(judgments))
            if missing:
                result.notes.append(f"ratings for {sorted(missing)} have no judgments and were not fused")
        result.frame = pd.concat(frames, ignore_index=True)
        self.result_ = result
        return self

    def _fuse_one(
        self, latent: pd.DataFrame, stats: pd.DataFrame, key: str, result: FusionResult
    ) -> pd.DataFrame:
        part = latent.join(stats, on="item")
        only_rated = stats.loc[~stats.index.isin(latent["item"])]
        if len(only_rated):  # allowed only with unjudged="ratings-only"
            extra = only_rated.reset_index().rename(columns={"index": "item"})
            extra["dimension"], extra["group"], extra["component"] = (
                part["dimension"].iloc[0],
                part["group"].iloc[0],
                0,
            )
            extra["n_comparisons"] = 0
            part = pd.concat([part, extra], ignore_index=True)
        x = part["latent"].to_numpy(float)
        xse = part["latent_se"].to_numpy(float)
        r = part["rating_mean"].to_numpy(float)
        rvar = part["rating_se2"].to_numpy(float)
        comp = part["component"].to_numpy(int)
        judged = comp > 0
        rated = np.isfinite(r) & judged
        amap = fit_affine_map(x[rated], xse[rated], r[rated], rvar[rated], comp[rated])
        result.maps[key] = amap
        if amap.slope <= 0:
            msg = f"{key}: preferences and ratings disagree in direction (slope {amap.slope:.3g}); fused scores are unreliable"
            result.notes.append(msg)
            warnings.warn(msg, UserWarning, stacklevel=3)
        unanchored = sorted(set(comp[judged].tolist()) - set(amap.offsets))
        if unanchored:
            result.notes.append(
                f"{key}: component(s) {unanchored} have no rated item: no fused score for their items"
            )
        offset = np.array([amap.offsets.get(int(k), np.nan) for k in comp])
        mapped = np.where(judged, offset + amap.slope * np.nan_to_num(x), np.nan)
        pvar = np.where(
            judged, np.maximum(amap.slope**2 * np.nan_to_num(xse) ** 2 + amap.tau2, 1e-12), np.inf
        )
        use_r = np.isfinite(r) & np.isfinite(rvar) & (rvar > 0)
        wp = np.where(np.isfinite(mapped), 1.0 / pvar, 0.0)
        wr = np.where(use_r, 1.0 / np.where(use_r, rvar, 1.0), 0.0)
        total = wp + wr
        with np.errstate(invalid="ignore", divide="ignore"):
            fused = (wp * np.nan_to_num(mapped) + wr * np.nan_to_num(r)) / total
            fused_se = np.sqrt(1.0 / total)
        part["preference_mapped"] = mapped
        part["fused"] = fused
        part["fused_se"] = fused_se
        lo, hi = fused - Z95 * fused_se, fused + Z95 * fused_se
        if self.scale is not None:
            lo, hi = np.clip(lo, *self.scale), np.clip(hi, *self.scale)
            part["fused"] = np.clip(fused, *self.scale)
        part["lower"], part["upper"] = lo, hi
        return part.drop(columns=["rating_var", "rating_se2"])


@dataclass
class ConstructionAgreement:
    """How close two fused scores built from disjoint halves of the annotators land."""

    srcc: float
    plcc: float
    icc_2_1: float
    n_items: int
    n_splits: int


def split_half_constructions(
    judgments: pd.DataFrame,
    ratings: pd.DataFrame | None = None,
    method: str = "bt",
    n_splits: int = 1,
    seed: int = 0,
    scale: tuple[float, float] | None = None,
    model_kwargs: dict[str, Any] | None = None,
) -> ConstructionAgreement:
    """Split annotators at random into halves, fuse each half alone, compare on shared items."""
    from artjudge.preference.reliability import icc

    people = set(judgments["annotator"])
    if ratings is not None:
        people |= set(ratings["annotator"])
    people_list = sorted(people)
    if len(people_list) < 2:
        raise InputError("judgments", "need at least 2 annotators to build two independent constructions")
    rng = np.random.default_rng(seed)
    srccs, plccs, iccs, ns = [], [], [], []
    for _ in range(n_splits):
        perm = rng.permutation(people_list)
        halves = [set(perm[: len(perm) // 2]), set(perm[len(perm) // 2 :])]
        fused = []
        for half in halves:
            # Each half alone may leave items uncompared or split the graph: it is scored as it stands.
            j = judgments[judgments["annotator"].isin(half)]
            r = ratings[ratings["annotator"].isin(half)] if ratings is not None else None
            fusion = RatingFusion(
                method, scale, components="separate", model_kwargs=model_kwargs, unjudged="ratings-only"
            ).fit(j, r)
            f = fusion.result_.frame
            fused.append(f.set_index(["dimension", "item"])["fused"])
        both = pd.concat(fused, axis=1, keys=["h1", "h2"]).dropna()
        if len(both) < 3:
            continue
        srccs.append(float(spearmanr(both["h1"], both["h2"])[0]))
        plccs.append(float(pearsonr(both["h1"], both["h2"])[0]))
        long = pd.DataFrame(
            {
                "annotator": np.repeat(["h1", "h2"], len(both)),
                "item": np.tile(np.arange(len(both)).astype(str), 2),
                "score": np.concatenate([both["h1"].to_numpy(), both["h2"].to_numpy()]),
            }
        )
        iccs.append(icc(long)[0])
        ns.append(len(both))
    if not srccs:
        raise InputError("judgments", "the two halves share fewer than 3 scored items")
    return ConstructionAgreement(
        float(np.mean(srccs)), float(np.mean(plccs)), float(np.mean(iccs)), int(np.mean(ns)), len(srccs)
    )
