"""Confidence intervals and paired tests, seeded, with the sample size beside every figure.

- `mean_ci`: the mean of per-item scores with a percentile bootstrap 95% interval
  (scipy.stats.bootstrap; the percentile method because BCa is undefined when every item
  scores the same, which small test sets often do).
- `paired_difference`: two approaches scored on the same items: the mean difference with a
  paired bootstrap interval, and a p-value: McNemar's exact test for 0/1 scores (a binomial
  test on the discordant pairs), a sign-flip permutation test otherwise.
  A difference "counts" (`separated`) when its interval excludes zero and p < 0.05: with few
  discordant pairs the percentile bootstrap alone is too optimistic.
"""
from __future__ import annotations

import numpy as np

SEED = 20240601
N_RESAMPLES = 2000


def mean_ci(values, confidence: float = 0.95, seed: int = SEED, n_resamples: int = N_RESAMPLES) -> dict:
    """{"value", "ci": [lo, hi], "n"}; for n == 0 a not-run entry (a figure without data is not 0)."""
    x = np.asarray([v for v in values if v is not None], dtype=float)
    n = int(x.size)
    if n == 0:
        return {"value": None, "ci": None, "n": 0, "status": "not run", "reason": "no items"}
    mean = float(x.mean())
    if n == 1 or np.all(x == x[0]):
        return {"value": mean, "ci": [mean, mean], "n": n}
    from scipy.stats import bootstrap

    res = bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=n_resamples, method="percentile",
                    random_state=np.random.default_rng(seed), vectorized=True)
    return {"value": mean, "ci": [float(res.confidence_interval.low), float(res.confidence_interval.high)], "n": n}


def paired_difference(a, b, confidence: float = 0.95, seed: int = SEED, n_resamples: int = N_RESAMPLES) -> dict:
    """Mean of a - b over paired items, its bootstrap interval, a p-value, and whether the
    interval excludes zero (`separated`). Pairs where either side is None are dropped."""
    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    n = len(pairs)
    if n == 0:
        return {"diff": None, "ci": None, "p_value": None, "n": 0, "separated": False, "test": None}
    x = np.asarray([p[0] for p in pairs], dtype=float)
    y = np.asarray([p[1] for p in pairs], dtype=float)
    d = x - y
    diff = float(d.mean())
    rng = np.random.default_rng(seed)
    if np.all(d == d[0]):
        lo = hi = diff
    else:
        idx = rng.integers(0, n, size=(n_resamples, n))
        boots = d[idx].mean(axis=1)
        alpha = (1 - confidence) / 2
        lo, hi = (float(v) for v in np.quantile(boots, [alpha, 1 - alpha]))
    binary = bool(np.isin(x, (0.0, 1.0)).all() and np.isin(y, (0.0, 1.0)).all())
    if binary:
        from scipy.stats import binomtest

        b10, b01 = int(((x == 1) & (y == 0)).sum()), int(((x == 0) & (y == 1)).sum())
        p = 1.0 if b10 + b01 == 0 else float(binomtest(b10, b10 + b01, 0.5).pvalue)
        test = f"McNemar exact ({b10} vs {b01} discordant pairs)"
    else:
        signs = rng.choice((-1.0, 1.0), size=(n_resamples, n))
        null = np.abs((signs * d).mean(axis=1))
        p = float((1 + (null >= abs(diff) - 1e-12).sum()) / (n_resamples + 1))
        test = "sign-flip permutation"
    # both must agree: the percentile bootstrap is optimistic with few discordant pairs
    separated = bool((lo > 0 or hi < 0) and p < 1 - confidence)
    return {"diff": diff, "ci": [lo, hi], "p_value": p, "n": n, "separated": separated, "test": test}


def fmt(figure: dict | None, pct: bool = True) -> str:
    """'0.62 [0.48, 0.75] (n=36)' or 'not run (reason)'."""
    if not figure or figure.get("value") is None:
        reason = (figure or {}).get("reason", "no data")
        return f"not run ({reason})"
    f = (lambda v: f"{100 * v:.0f}%") if pct else (lambda v: f"{v:.3f}")
    ci = figure.get("ci")
    ci_txt = f" [{f(ci[0])}, {f(ci[1])}]" if ci else ""
    return f"{f(figure['value'])}{ci_txt} (n={figure['n']})"
