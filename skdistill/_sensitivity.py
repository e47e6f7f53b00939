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

How well the floor finds such inputs, on synthetic sets and the paper's
teachers, is in the docs' concepts page.
"""

import numpy as np
import torch

__all__ = ["floor_splits", "input_sensitivity", "noise_feature_mask", "noise_floor"]

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


def noise_feature_mask(noise_features, teacher, x, domain, y_scale, feature_names=None):
    """Return ``(sensitivity, mask)`` for the ``noise_features`` parameter.

    ``sensitivity`` is the teacher's :func:`input_sensitivity` on ``x`` (None
    for a black-box teacher, or a torch teacher without input gradients);
    ``mask`` marks the features the student averages over: the noise floor
    for ``"auto"`` (none for a black-box teacher), none for ``None``, else
    the given indices, names (looked up in ``feature_names``) or booleans.
    """
    n = domain.n_features
    sensitivity = None
    if teacher.differentiable:
        sensitivity = input_sensitivity(teacher, x, domain.scale, y_scale)
    if noise_features is None:
        return sensitivity, np.zeros(n, dtype=bool)
    if isinstance(noise_features, str):  # "auto"
        if sensitivity is None:
            return None, np.zeros(n, dtype=bool)
        eligible = (domain.scale > 0) & ~domain.ignored
        return sensitivity, noise_floor(sensitivity, eligible)
    return sensitivity, _given_mask(noise_features, n, feature_names)


def _given_mask(noise_features, n, feature_names):
    """``noise_features`` given as indices, names or a mask, as a mask."""
    given = np.asarray(noise_features)
    if given.ndim != 1:
        raise ValueError(
            "noise_features must be 'auto', None, or a 1-D array-like of feature "
            f"indices, names or booleans; got an array of shape {given.shape}."
        )
    mask = np.zeros(n, dtype=bool)
    if given.size == 0:
        return mask
    if given.dtype.kind == "b":
        if given.shape[0] != n:
            raise ValueError(
                f"noise_features as a boolean mask needs {n} values, one per "
                f"feature; got {given.shape[0]}."
            )
        return given.copy()
    if given.dtype.kind in "USO":
        if feature_names is None:
            raise ValueError(
                "noise_features names features, but neither the teacher nor "
                "fit(X) gave feature names; pass feature indices instead."
            )
        lookup = {str(name): j for j, name in enumerate(feature_names)}
        unknown = [str(g) for g in given if str(g) not in lookup]
        if unknown:
            raise ValueError(
                f"noise_features names {unknown}, which are not among the "
                f"features {list(map(str, feature_names))}."
            )
        mask[[lookup[str(g)] for g in given]] = True
        return mask
    if given.dtype.kind not in "iu":
        raise ValueError(
            "noise_features must hold feature indices (integers), names "
            f"(strings) or booleans; got values of dtype {given.dtype}."
        )
    bad = given[(given < -n) | (given >= n)]
    if bad.size:
        raise ValueError(
            f"noise_features holds indices {bad.tolist()} outside the {n} features."
        )
    mask[given] = True
    return mask
