"""Polynomial teachers: their degree, and their coefficients read exactly."""

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.decomposition import PCA
from sklearn.linear_model import HuberRegressor, LinearRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, PolynomialFeatures, StandardScaler

from skdistill._polynomial import polynomial_degree, read_polynomial


def _evaluate(outputs, U):
    out = np.zeros((len(U), len(outputs)))
    for o, polynomial in enumerate(outputs):
        for exponents, value in polynomial.items():
            out[:, o] += value * np.prod(U ** np.array(exponents), axis=1)
    return out


@pytest.mark.parametrize(
    "model",
    [
        LinearRegression(),
        make_pipeline(PolynomialFeatures(2), Ridge()),
        make_pipeline(
            StandardScaler(), PolynomialFeatures(3), StandardScaler(), Ridge()
        ),
        make_pipeline(PCA(3), PolynomialFeatures(2), HuberRegressor()),
        TransformedTargetRegressor(
            make_pipeline(MinMaxScaler(), PolynomialFeatures(2), Ridge()),
            transformer=StandardScaler(),
        ),
    ],
    ids=["linear", "poly", "scaled-poly3", "pca-poly-huber", "target-scaled"],
)
def test_read_polynomial_reproduces_the_teacher_in_standardised_inputs(model):
    rng = np.random.default_rng(0)
    X = rng.normal(100, 30, (300, 4))
    y = X[:, 0] * X[:, 1] / 100 + X[:, 2] + rng.normal(size=300)
    _check(model.fit(X, y), X, rng)


def test_read_polynomial_of_a_multi_output_teacher():
    rng = np.random.default_rng(0)
    X = rng.normal(100, 30, (300, 4))
    Y = np.column_stack([X[:, 0] * X[:, 1], X[:, 3] ** 2])
    _check(make_pipeline(PolynomialFeatures(2), Ridge()).fit(X, Y), X, rng)


def _check(model, X, rng):
    loc, scale = X.mean(axis=0) + 5, 2 * X.std(axis=0)
    outputs = read_polynomial(model, 4, loc, scale)
    X_new = rng.normal(100, 60, (50, 4))  # also beyond the rows
    expected = np.asarray(model.predict(X_new)).reshape(50, -1)
    got = _evaluate(outputs, (X_new - loc) / scale)
    np.testing.assert_allclose(
        got, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max()
    )


def test_read_polynomial_of_another_teacher_is_none():
    from sklearn.ensemble import RandomForestRegressor

    X = np.random.default_rng(0).normal(size=(50, 2))
    forest = RandomForestRegressor(n_estimators=2, random_state=0).fit(X, X[:, 0])
    assert read_polynomial(forest, 2, np.zeros(2), np.ones(2)) is None


def _fitted(model, n_features=3):
    X = np.random.default_rng(0).uniform(1, 2, size=(60, n_features))
    return model.fit(X, X.sum(axis=1))


@pytest.mark.parametrize(
    "make, degree",
    [
        (lambda: _linear(), 1),
        (lambda: _pipe("poly2", "ridge"), 2),
        (lambda: _pipe("scale", "poly3", "scale", "ridge"), 3),
        (lambda: _pipe("poly2", "poly2", "ridge"), 4),
        (lambda: _pipe("pca", "poly2", "ridge"), 2),
        (lambda: _frozen(_pipe("poly2", "ridge")), 2),
        (lambda: _target(_pipe("poly2", "ridge"), affine=True), 2),
        (lambda: _target(_pipe("poly2", "ridge"), affine=False), None),
        (lambda: _pipe("spline", "ridge"), None),
        (lambda: _pipe("tanh", "ridge"), None),
        (lambda: _pipe("clip", "ridge"), None),
        (lambda: _poisson(), None),
        (lambda: _pipe("poly2", "scale"), None),
    ],
)
def test_polynomial_degree_sees_linear_models_through_affine_steps(make, degree):
    assert polynomial_degree(_fitted(make())) == degree


def _linear():
    from sklearn.linear_model import LinearRegression

    return LinearRegression()


def _poisson():
    from sklearn.linear_model import PoissonRegressor

    return PoissonRegressor()


def _pipe(*names):
    from sklearn.decomposition import PCA
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import (
        FunctionTransformer,
        MinMaxScaler,
        PolynomialFeatures,
        SplineTransformer,
        StandardScaler,
    )

    steps = {
        "poly2": lambda: PolynomialFeatures(2),
        "poly3": lambda: PolynomialFeatures(3),
        "scale": StandardScaler,
        "pca": lambda: PCA(2),
        "ridge": Ridge,
        "spline": SplineTransformer,
        "tanh": lambda: FunctionTransformer(np.tanh),
        "clip": lambda: MinMaxScaler(clip=True),
    }
    return make_pipeline(*(steps[name]() for name in names))


def _frozen(model):
    from sklearn.frozen import FrozenEstimator

    return FrozenEstimator(_fitted(model))


def _target(model, affine):
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.preprocessing import StandardScaler

    if affine:
        return TransformedTargetRegressor(model, transformer=StandardScaler())
    return TransformedTargetRegressor(model, func=np.log, inverse_func=np.exp)
