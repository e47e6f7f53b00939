"""Which inputs the teacher only fits noise on: its sensitivities' noise floor.

A network fitted to rows with inputs that do not bear on the target still
responds to them: their first-layer weights start at random and are never
trained away, so the teacher adds a small, arbitrary function of them to
what it learned. A student that copies the teacher copies that noise too. A
student that ignores those inputs, and is trained on queries that draw them
from the domain, learns the teacher's *average* over them instead (its
partial dependence on the other inputs), which is closer to what the teacher
was fitted to find.

The noise inputs show as a floor in the teacher's input sensitivities
(``input_sensitivity``: each feature's share of the mean squared input
gradient, in the domain's standardised units). Inputs that do not bear on the
target are exchangeable to the teacher's training: their sensitivities are
draws of one distribution, so they lie close together, and below every input
that does matter. ``noise_floor`` finds such a set of features: at least
``_FLOOR_MIN_SIZE`` of them, within a factor ``_FLOOR_SPREAD`` of each other,
``_FLOOR_GAP`` times below every other feature, and holding at most
``_FLOOR_MAX_SHARE`` of the teacher's sensitivity together. Inputs that
matter only a little but each in its own way spread out instead of
clustering, and no floor is found.

Measured at 10 seeds (``benchmarks/results/noise_features.md``): on
synthetic sets whose irrelevant inputs are known (Friedman's function with 5
or 25 extra inputs, a linear target of 5 of 20 inputs), the floor was exactly
those inputs on every seed, with gaps of 17 to 116; with no such inputs,
none was found. On the paper's puma32h, whose target depends on 4 of its 32
inputs, the 28 others formed the floor at every seed (gaps of 6.0 to 13.3,
spreads up to 3.8), and on mv 2 or 3 of its 10 inputs (gaps of 5.0 to 36).
On compactiv, cpusmall and the 384-feature check no set of features within
a factor 8 of each other sat more than 3.0 times below the rest, and no floor
was found.
"""

import numpy as np
import torch

__all__ = ["floor_splits", "input_sensitivity", "noise_floor"]

# The rule of noise_floor; see the module docstring.
_FLOOR_GAP = 4.0
_FLOOR_SPREAD = 8.0
_FLOOR_MIN_SIZE = 2
_FLOOR_MAX_SHARE = 0.05
_CHUNK = 4096


def input_sensitivity(teacher, x, scale, y_scale):
    """Each feature's share of the teacher's mean squared input gradient.

    Parameters
    ----------
    teacher : differentiable teacher adapter
        Called with autograd (``teacher(x)``); ``x`` is not counted as new
        queries.
    x : torch.Tensor of shape (n, n_features)
        Queries from the domain's base distribution (input units).
    scale : array-like of shape (n_features,)
        The domain's per-feature scale: gradients are taken per standard
        unit of each feature, so that the units of the inputs do not matter.
    y_scale : torch.Tensor of shape (1, n_outputs)
        The teacher's output scale: every output counts alike.

    Returns
    -------
    share : ndarray of shape (n_features,) or None
        Non-negative, summing to 1 (all zeros for a teacher flat on ``x``).
        Features of zero scale get 0. None when the teacher's output has no
        input gradient (a module that detaches it, or an operation without a
        backward pass).
    """
    total = torch.zeros(x.shape[1], dtype=torch.float64, device=x.device)
    for start in range(0, x.shape[0], _CHUNK):
        chunk = x[start : start + _CHUNK].detach().requires_grad_(True)
        try:
            with torch.enable_grad():
                y = teacher(chunk) / y_scale
                if not y.requires_grad:
                    return None
                for k in range(y.shape[1]):
                    (grad,) = torch.autograd.grad(
                        y[:, k].sum(),
                        chunk,
                        retain_graph=k + 1 < y.shape[1],
                        allow_unused=True,
                    )
                    if grad is None:  # this output does not depend on x
                        continue
                    grad = torch.nan_to_num(
                        grad.double(), nan=0.0, posinf=0.0, neginf=0.0
                    )
                    total += (grad**2).sum(dim=0)
        except (RuntimeError, NotImplementedError):
            # No backward pass through the teacher; gradient-free strategies
            # still distill it.
            return None
    total = total.cpu().numpy() * np.asarray(scale, dtype=np.float64) ** 2
    norm = total.sum()
    return total / norm if norm > 0 else total


def floor_splits(sorted_share):
    """Yield every way to split sorted shares into kept features and a floor.

    Parameters
    ----------
    sorted_share : ndarray of shape (n,)
        Positive sensitivities, largest first.

    Yields
    ------
    k, gap, spread, floor_share : int, float, float, float
        The floor is ``sorted_share[k:]`` (at least ``_FLOOR_MIN_SIZE``
        features): how many times below the lowest kept feature it sits, how
        far apart its own features are, and its fraction of the total.
    """
    total, lowest = sorted_share.sum(), sorted_share[-1]
    for k in range(1, sorted_share.size - _FLOOR_MIN_SIZE + 1):
        yield (
            k,
            sorted_share[k - 1] / sorted_share[k],
            sorted_share[k] / lowest,
            sorted_share[k:].sum() / total,
        )


def noise_floor(share, eligible):
    """Return the features in the teacher's noise floor, as a boolean mask.

    Parameters
    ----------
    share : ndarray of shape (n_features,)
        From :func:`input_sensitivity`.
    eligible : ndarray of bool of shape (n_features,)
        Features that may be in the floor (those the queries vary and the
        student takes as input).

    Returns
    -------
    mask : ndarray of bool of shape (n_features,)
        The largest set of eligible features that forms a floor (see the
        module docstring); all False when there is none.
    """
    share = np.asarray(share, dtype=np.float64)
    mask = np.zeros(share.shape[0], dtype=bool)
    candidates = np.flatnonzero(np.asarray(eligible, dtype=bool))
    if candidates.size < _FLOOR_MIN_SIZE + 1 or not (share[candidates] > 0).all():
        return mask
    order = candidates[np.argsort(-share[candidates], kind="stable")]
    # The first split that leaves a floor below it is the largest floor.
    for k, gap, spread, floor_share in floor_splits(share[order]):
        if (
            gap >= _FLOOR_GAP
            and spread <= _FLOOR_SPREAD
            and floor_share <= _FLOOR_MAX_SHARE
        ):
            mask[order[k:]] = True
            break
    return mask
