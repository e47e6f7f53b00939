"""Teachers that are polynomials of their inputs, and their exact coefficients.

A scikit-learn linear regressor is a polynomial of degree 1 in its inputs; it
stays one behind affine Pipeline steps (scalers, PCA), and each
``PolynomialFeatures`` step multiplies the degree by its own. Such a teacher
reveals nothing about where its inputs lie, and needs not to: a student of its
own form, with its coefficients, matches it everywhere.

The coefficients are read, not fitted. A least-squares fit on synthetic queries
recovers them only as far as the queries' scale lets it: a raw column in the
millions carries its square's coefficient, about 1e-12, below the precision of
float64 answers to queries near the origin. Composing the steps instead is
exact up to the teacher's own rounding: each affine step is read off its
answers to the origin and the unit vectors, each ``PolynomialFeatures`` step
multiplies polynomials, and the result is re-expressed in the student's
standardised inputs.
"""

import importlib
import math

import numpy as np

__all__ = ["polynomial_degree", "read_polynomial"]

# scikit-learn's linear regressors (``X @ coef_ + intercept_``), by name, as far
# as the installed version has them. The generalised linear models (Poisson,
# Gamma, Tweedie) are left out: their predictions pass through a link.
_LINEAR_MODELS = {
    "sklearn.linear_model": (
        "ARDRegression",
        "BayesianRidge",
        "ElasticNet",
        "ElasticNetCV",
        "HuberRegressor",
        "Lars",
        "LarsCV",
        "Lasso",
        "LassoCV",
        "LassoLars",
        "LassoLarsCV",
        "LassoLarsIC",
        "LinearRegression",
        "MultiTaskElasticNet",
        "MultiTaskElasticNetCV",
        "MultiTaskLasso",
        "MultiTaskLassoCV",
        "OrthogonalMatchingPursuit",
        "OrthogonalMatchingPursuitCV",
        "QuantileRegressor",
        "Ridge",
        "RidgeCV",
        "SGDRegressor",
        "TheilSenRegressor",
    ),
    "sklearn.svm": ("LinearSVR",),
}


def _linear_models():
    found = []
    for module_name, names in _LINEAR_MODELS.items():
        module = importlib.import_module(module_name)
        found += [getattr(module, name) for name in names if hasattr(module, name)]
    return tuple(found)


def _is_affine(step):
    """Whether a fitted transformer maps its inputs affinely (or is no step)."""
    from sklearn.decomposition import PCA, TruncatedSVD
    from sklearn.preprocessing import (
        FunctionTransformer,
        MaxAbsScaler,
        MinMaxScaler,
        RobustScaler,
        StandardScaler,
    )

    if step is None or (isinstance(step, str) and step == "passthrough"):
        return True
    if isinstance(step, FunctionTransformer):
        return step.func is None
    if isinstance(step, MinMaxScaler):
        return not step.clip
    scalers = (StandardScaler, MaxAbsScaler, RobustScaler, PCA, TruncatedSVD)
    return isinstance(step, scalers)


def _polynomial_steps(teacher):
    """``(steps, target)`` of a polynomial teacher, else None.

    ``steps`` go from the inputs to the output: ``("affine", transformer)``,
    ``("power", PolynomialFeatures)`` and, last, ``("linear", model)``;
    ``target`` is the affine target transformer of a
    ``TransformedTargetRegressor`` (or None), applied inversely to the output.
    """
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import PolynomialFeatures

    pending, steps, target = [teacher], [], None
    while pending:
        step = pending.pop(0)
        if isinstance(step, TransformedTargetRegressor):
            transformer = getattr(step, "transformer_", "missing")
            if target is not None or steps or not _is_affine(transformer):
                return None
            target = transformer
            pending.insert(0, step.regressor_)
        elif type(step).__name__ == "FrozenEstimator":
            pending.insert(0, step.estimator)
        elif getattr(step, "best_estimator_", None) is not None:
            pending.insert(0, step.best_estimator_)
        elif isinstance(step, Pipeline):
            pending[:0] = [s for _, s in step.steps]
        elif pending and isinstance(step, PolynomialFeatures):
            steps.append(("power", step))
        elif pending and _is_affine(step):
            steps.append(("affine", step))
        elif not pending and isinstance(step, _linear_models()):
            steps.append(("linear", step))
            return steps, target
        else:
            return None
    return None


def _degree(power):
    return int(power.degree if np.ndim(power.degree) == 0 else power.degree[1])


def polynomial_degree(teacher):
    """The degree of a teacher that is a polynomial of its inputs, else None.

    A scikit-learn linear regressor is a polynomial of degree 1. So is it
    after affine steps of a ``Pipeline`` (scalers, PCA); each
    ``PolynomialFeatures`` step multiplies the degree by its own. Seen
    through ``FrozenEstimator``, a search's ``best_estimator_`` and a
    ``TransformedTargetRegressor`` whose target transform is affine.
    """
    found = _polynomial_steps(teacher)
    if found is None:
        return None
    return math.prod(_degree(step) for kind, step in found[0] if kind == "power")


# -- polynomials: {exponents: coefficient}, exponents a tuple per input -------
def _add(total, poly, weight):
    for exponents, value in poly.items():
        total[exponents] = total.get(exponents, 0.0) + weight * value


def _times(a, b):
    product = {}
    for ea, va in a.items():
        for eb, vb in b.items():
            exponents = tuple(i + j for i, j in zip(ea, eb))
            product[exponents] = product.get(exponents, 0.0) + va * vb
    return product


def _power(poly, k, one):
    result = one
    for _ in range(k):
        result = _times(result, poly)
    return result


def _affine(step, features, one):
    """The polynomials ``step`` makes of its input polynomials ``features``."""
    if isinstance(step, str) or step is None:  # "passthrough"
        return features
    n_in = len(features)
    transform = step.predict if hasattr(step, "predict") else step.transform
    offset = np.asarray(transform(np.zeros((1, n_in))), dtype=np.float64)
    slopes = np.asarray(transform(np.eye(n_in)), dtype=np.float64)
    offset = offset.reshape(1, -1)
    slopes = slopes.reshape(n_in, -1) - offset
    out = []
    for o in range(offset.shape[1]):
        poly = {e: v * offset[0, o] for e, v in one.items()}
        for j in np.flatnonzero(slopes[:, o]):
            _add(poly, features[j], slopes[j, o])
        out.append(poly)
    return out


def _powers(step, features, one):
    cache = {}
    out = []
    for row in step.powers_:
        poly = one
        for j in np.flatnonzero(row):
            key = (j, int(row[j]))
            if key not in cache:
                cache[key] = _power(features[j], int(row[j]), one)
            poly = _times(poly, cache[key])
        out.append(poly)
    return out


def read_polynomial(teacher, n_features, x_loc, x_scale):
    """A polynomial teacher's coefficients in standardised inputs, or None.

    Parameters
    ----------
    teacher : fitted estimator
        A teacher whose :func:`polynomial_degree` is not None.
    n_features : int
        Its input width.
    x_loc, x_scale : array-like of shape (n_features,)
        The student's input standardisation: ``u = (x - x_loc) / x_scale``.

    Returns
    -------
    coefficients : list of dict
        Per output, ``{exponents: coefficient}`` of the teacher as a
        polynomial of ``u`` (``exponents`` a tuple of ``n_features`` ints;
        the all-zero tuple is the constant), or None for a teacher that is
        not a polynomial.
    """
    found = _polynomial_steps(teacher)
    if found is None:
        return None
    steps, target = found
    zero = (0,) * n_features
    one = {zero: 1.0}
    # The raw inputs in u: x_j = x_loc_j + x_scale_j * u_j.
    features = []
    for j in range(n_features):
        unit = tuple(int(i == j) for i in range(n_features))
        features.append({zero: float(x_loc[j]), unit: float(x_scale[j])})
    for kind, step in steps:
        if kind == "power":
            features = _powers(step, features, one)
        else:
            features = _affine(step, features, one)
    if target is not None:
        features = _affine(_Inverse(target), features, one)
    return features


class _Inverse:
    """A fitted target transformer, applied inversely (to a 2-D output)."""

    def __init__(self, transformer):
        self.transformer = transformer

    def transform(self, y):
        return self.transformer.inverse_transform(y)
