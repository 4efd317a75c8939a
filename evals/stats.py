"""Confidence intervals, paired tests and power, seeded, with the sample size beside every figure.

- `mean_ci`: the mean of per-item scores with a percentile bootstrap 95% interval
  (scipy.stats.bootstrap; the percentile method because BCa is undefined when every item
  scores the same, which small test sets often do). Given `clusters` (each item's source
  document), a cluster bootstrap: items that share a document are resampled together, since
  questions about one policy page pass or fail together and are not independent.
- `paired_difference`: two approaches scored on the same items: the mean difference with a
  paired bootstrap interval (by cluster when given), and a p-value: McNemar's exact test for 0/1
  scores (a binomial test on the discordant pairs), a sign-flip permutation test otherwise, or
  with clusters a sign-flip permutation of the clusters' summed differences. A difference
  "counts" (`separated`) when its interval excludes zero and p < 0.05: with few discordant pairs
  the percentile bootstrap alone is too optimistic. `holm` adjusts a family of them.
  Each comparison also says what the test set could have shown (`power`): the smallest
  difference it would separate four times in five, and how many items the observed difference
  would need.
The cluster bootstrap and the cluster permutation are written here (a few lines of numpy):
scipy.stats.bootstrap and permutation_test resample items, not groups of items.
"""
from __future__ import annotations

import numpy as np

SEED = 20240601
N_RESAMPLES = 2000
ALPHA = 0.05
POWER = 0.8


def _groups(n: int, clusters) -> tuple[np.ndarray, int] | None:
    """Each item's cluster index and the number of clusters, or None when there are no clusters
    or every item is its own (then the item bootstrap is the cluster bootstrap)."""
    if clusters is None:
        return None
    _, index = np.unique(np.asarray([str(c) for c in clusters]), return_inverse=True)
    k = int(index.max()) + 1 if n else 0
    return (index, k) if 1 < k < n else None


def _cluster_means(x: np.ndarray, index: np.ndarray, k: int, rng, n_resamples: int) -> np.ndarray:
    """Bootstrap means of x, resampling whole clusters."""
    sums, counts = np.bincount(index, weights=x, minlength=k), np.bincount(index, minlength=k)
    pick = rng.integers(0, k, size=(n_resamples, k))
    return sums[pick].sum(axis=1) / counts[pick].sum(axis=1)


def mean_ci(values, confidence: float = 0.95, seed: int = SEED, n_resamples: int = N_RESAMPLES,
            clusters=None) -> dict:
    """{"value", "ci": [lo, hi], "n"} (+ "clusters" when the interval resampled them); for
    n == 0 a not-run entry (a figure without data is not 0)."""
    keep = [i for i, v in enumerate(values) if v is not None]
    x = np.asarray([values[i] for i in keep], dtype=float)
    n = int(x.size)
    if n == 0:
        return {"value": None, "ci": None, "n": 0, "status": "not run", "reason": "no items"}
    mean = float(x.mean())
    if n == 1 or np.all(x == x[0]):
        return {"value": mean, "ci": [mean, mean], "n": n}
    groups = _groups(n, None if clusters is None else [clusters[i] for i in keep])
    alpha = (1 - confidence) / 2
    if groups:
        boots = _cluster_means(x, *groups, np.random.default_rng(seed), n_resamples)
        lo, hi = np.quantile(boots, [alpha, 1 - alpha])
        return {"value": mean, "ci": [float(lo), float(hi)], "n": n, "clusters": groups[1]}
    from scipy.stats import bootstrap

    res = bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=n_resamples, method="percentile",
                    random_state=np.random.default_rng(seed), vectorized=True)
    return {"value": mean, "ci": [float(res.confidence_interval.low), float(res.confidence_interval.high)], "n": n}


def power(diff: float, se: float, n: int) -> dict:
    """What a test set of n items with this standard error of the difference could show: the
    smallest difference separated with probability POWER at ALPHA (two-sided, normal
    approximation), and the items the observed difference would need at the same spread."""
    from scipy.stats import norm

    z = float(norm.ppf(1 - ALPHA / 2) + norm.ppf(POWER))
    if se <= 0:
        return {"mde": None, "n_needed": None, "power_note": "no discordant items: both answered every item alike"}
    mde = z * se
    n_needed = None if diff == 0 else int(np.ceil(n * (mde / abs(diff)) ** 2))
    return {"mde": float(mde), "n_needed": n_needed}


def paired_difference(a, b, confidence: float = 0.95, seed: int = SEED, n_resamples: int = N_RESAMPLES,
                      clusters=None) -> dict:
    """Mean of a - b over paired items, its bootstrap interval, a p-value, whether the interval
    excludes zero (`separated`), and the test set's power. Pairs where either side is None are
    dropped; `clusters` (one per pair) makes the interval and the test resample by cluster."""
    keep = [i for i, (x, y) in enumerate(zip(a, b)) if x is not None and y is not None]
    n = len(keep)
    if n == 0:
        return {"diff": None, "ci": None, "p_value": None, "n": 0, "separated": False, "test": None,
                "mde": None, "n_needed": None}
    x = np.asarray([a[i] for i in keep], dtype=float)
    y = np.asarray([b[i] for i in keep], dtype=float)
    d = x - y
    diff = float(d.mean())
    rng = np.random.default_rng(seed)
    groups = _groups(n, None if clusters is None else [clusters[i] for i in keep])
    if groups:
        boots = _cluster_means(d, *groups, rng, n_resamples)
    else:
        boots = d[rng.integers(0, n, size=(n_resamples, n))].mean(axis=1)
    alpha = (1 - confidence) / 2
    lo, hi = (diff, diff) if np.all(d == d[0]) else (float(v) for v in np.quantile(boots, [alpha, 1 - alpha]))
    binary = bool(np.isin(x, (0.0, 1.0)).all() and np.isin(y, (0.0, 1.0)).all())
    b10, b01 = int(((x == 1) & (y == 0)).sum()), int(((x == 0) & (y == 1)).sum())
    if groups:
        index, k = groups
        sums = np.bincount(index, weights=d, minlength=k)
        signs = rng.choice((-1.0, 1.0), size=(n_resamples, k))
        null = np.abs((signs * sums).sum(axis=1))
        p = float((1 + (null >= abs(sums.sum()) - 1e-12).sum()) / (n_resamples + 1))
        test = f"cluster sign-flip permutation ({k} documents" + (f", {b10} vs {b01} discordant pairs)" if binary else ")")
    elif binary:
        p = mcnemar(x, y)[2]
        test = f"McNemar exact ({b10} vs {b01} discordant pairs)"
    else:
        signs = rng.choice((-1.0, 1.0), size=(n_resamples, n))
        null = np.abs((signs * d).mean(axis=1))
        p = float((1 + (null >= abs(diff) - 1e-12).sum()) / (n_resamples + 1))
        test = "sign-flip permutation"
    # both must agree: the percentile bootstrap is optimistic with few discordant pairs
    separated = bool((lo > 0 or hi < 0) and p < 1 - confidence)
    out = {"diff": diff, "ci": [lo, hi], "p_value": p, "n": n, "separated": separated, "test": test,
           **power(diff, float(boots.std()), n)}
    if not separated and out["n_needed"] is not None and out["n_needed"] <= n:
        # the normal approximation says n would do, the exact test says it did not: too few
        # discordant pairs for the approximation to say how many more
        out["n_needed"] = None
    if groups:
        out["clusters"] = groups[1]
    return out


def mcnemar(a, b) -> tuple[int, int, float]:
    """McNemar's exact test of two paired 0/1 outcomes: (a right and b wrong, b right and a
    wrong, two-sided p of the binomial test on those discordant pairs)."""
    from scipy.stats import binomtest

    b10 = sum(x > y for x, y in zip(a, b))
    b01 = sum(x < y for x, y in zip(a, b))
    return int(b10), int(b01), float(binomtest(b10, b10 + b01, 0.5).pvalue) if b10 + b01 else 1.0


def holm(comparisons: list[dict], alpha: float = ALPHA) -> list[dict]:
    """Holm's step-down adjustment over a family of paired comparisons (in place, returned):
    each gets `p_holm`, and `separated` now needs p_holm < alpha as well as an interval that
    excludes zero. Three to six pairwise tests read at p < 0.05 each would find a difference
    by chance far more often than one time in twenty. (Five lines; statsmodels is not a
    dependency for this alone.)"""
    tested = sorted((c for c in comparisons if c.get("p_value") is not None), key=lambda c: c["p_value"])
    m, running = len(tested), 0.0
    for i, c in enumerate(tested):
        running = max(running, min(1.0, (m - i) * c["p_value"]))
        c["p_holm"] = running
        c["separated"] = bool(c["separated"] and running < alpha)
    return comparisons


def fmt(figure: dict | None, pct: bool = True) -> str:
    """'0.62 [0.48, 0.75] (n=36)' or 'not run (reason)'."""
    if not figure or figure.get("value") is None:
        reason = (figure or {}).get("reason", "no data")
        return f"not run ({reason})"
    f = (lambda v: f"{100 * v:.0f}%") if pct else (lambda v: f"{v:.3f}")
    ci = figure.get("ci")
    ci_txt = f" [{f(ci[0])}, {f(ci[1])}]" if ci else ""
    by = f", {figure['clusters']} documents" if figure.get("clusters") else ""
    return f"{f(figure['value'])}{ci_txt} (n={figure['n']}{by})"
