"""The organiser's live view: reliability of what has come in, and fused scores.

Both come from ``artjudge.preference`` (reliability_report, RatingFusion), fed the same
tables the CSV export writes. When that package is not part of a build, reliability falls
back to Krippendorff's alpha on ratings alone and fused scores answer 503 with the reason.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from artjudge.errors import ArtjudgeError
from artjudge.serve.engines import Unavailable

if TYPE_CHECKING:
    import pandas as pd

PAIR_HEADER = ["annotator", "item_a", "item_b", "winner", "dimension", "confidence", "timestamp"]
RATING_HEADER = ["annotator", "item", "score", "dimension"]


def _clean(obj: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(obj, float):
        return None if not math.isfinite(obj) else round(obj, 6)
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _clean(obj.item())
    return obj


ANALYSIS_MISSING = "needs the [analysis] extra (pandas, SciPy): pip install 'artjudge[analysis]'"


def _frames(pairs: list[list[Any]], ratings: list[list[Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows as the CSV export's tables; raises Unavailable on a base install (no pandas)."""
    try:
        import pandas as pd
    except ModuleNotFoundError:
        raise Unavailable(f"campaign analysis {ANALYSIS_MISSING}") from None

    j = pd.DataFrame(pairs, columns=PAIR_HEADER)
    j["confidence"] = j["confidence"].replace("", 1.0).astype(float) if not j.empty else j["confidence"]
    r = pd.DataFrame(ratings, columns=RATING_HEADER)
    if not r.empty:
        r["score"] = r["score"].astype(float)
    return j, r


def reliability(pairs: list[list[Any]], ratings: list[list[Any]], dimensions: list[str]) -> dict[str, Any]:
    """Per dimension: the preference package's reliability report on what has come in so far."""
    try:
        j, r = _frames(pairs, ratings)
    except Unavailable:  # a base install: the campaign page still works, without this report
        return {dim: {"notes": [f"reliability {ANALYSIS_MISSING}"]} for dim in dimensions}
    out: dict[str, Any] = {}
    for dim in dimensions:
        jd = j[j["dimension"] == dim]
        rd = r[r["dimension"] == dim]
        if jd.empty and rd.empty:
            out[dim] = {"notes": ["no judgments yet"]}
            continue
        try:
            from artjudge.preference.reliability import reliability_report

            rep = reliability_report(jd if not jd.empty else None, rd if not rd.empty else None, max_refits=8)
            out[dim] = _clean(rep.to_dict())
        except ImportError as err:
            out[dim] = {"notes": [f"artjudge.preference unavailable ({err})"]}
        except (ArtjudgeError, ValueError, ZeroDivisionError, IndexError, KeyError) as err:
            out[dim] = {"notes": [f"not computable yet: {err}"]}
    return out


def fused_scores(pairs: list[list[Any]], ratings: list[list[Any]], scale: tuple[float, float]) -> Any:
    """Fuse pairwise judgments and ratings (``RatingFusion``); 503 with the reason when impossible."""
    try:
        from artjudge.preference.fusion import RatingFusion
    except ImportError as err:
        raise Unavailable(f"fused scores: artjudge.preference is not part of this build ({err})") from None
    j, r = _frames(pairs, ratings)
    if j.empty:
        raise Unavailable("fused scores: no pairwise judgments yet")
    try:
        result = (
            RatingFusion(method="bt", scale=scale, components="separate")
            .fit(j, r if not r.empty else None)
            .result_
        )
    except ArtjudgeError as err:
        raise Unavailable(f"fused scores: {err}") from err
    except (ValueError, ZeroDivisionError, IndexError, KeyError, RuntimeError) as err:
        raise Unavailable(f"fused scores: not computable yet ({err.__class__.__name__}: {err})") from err
    return {"scores": _clean(result.frame.to_dict(orient="records")), "notes": list(result.notes)}
