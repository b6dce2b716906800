"""Bootstrap confidence intervals over bags, seeded so a CI gate gives the same verdict twice.

The unit is the bag: bags are resampled with replacement and the statistic (the mean of the
per-bag differences B - A) recomputed; the interval is the percentile interval of those means.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else float("nan")


def bootstrap_mean_ci(
    values: Sequence[float], *, seed: int, resamples: int = 2000, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values`."""
    if not values:
        return (float("nan"), float("nan"))
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    rng = random.Random(seed)
    n = len(values)
    means = sorted(mean([values[rng.randrange(n)] for _ in range(n)]) for _ in range(resamples))
    lo_i = int(math.floor((1.0 - confidence) / 2.0 * (resamples - 1)))
    hi_i = int(math.ceil((1.0 + confidence) / 2.0 * (resamples - 1)))
    return (means[lo_i], means[hi_i])
