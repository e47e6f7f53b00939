import numpy as np
import pytest
import torch

from skdistill import InputDomain


def _sample(domain, n=2000, seed=0):
    return domain.sample(n, torch.Generator().manual_seed(seed)).numpy()


def test_default_domain_is_the_papers_standard_normal():
    d = InputDomain.standard_normal(5)
    x = _sample(d, 20000)
    np.testing.assert_allclose(x.mean(0), 0, atol=0.05)
    np.testing.assert_allclose(x.std(0), 1, atol=0.05)
    assert "standard normal" in d.source


def test_bounds_give_a_uniform_box_that_contains_every_query():
    d = InputDomain.from_bounds([0, -5, 100], [1, 5, 200])
    x = _sample(d)
    assert d.contains(x)
    assert x[:, 2].min() < 110 and x[:, 2].max() > 190  # the whole box is used


@pytest.mark.parametrize(
    "low, high, match",
    [
        ([0, 1], [1, 1], "low must be < high"),
        ([0, 2], [1, 1], "low must be < high"),
        ([0, -np.inf], [1, 1], "finite"),
        ([0, 1], [1, 2, 3], "entries"),
    ],
)
def test_bad_bounds_are_rejected(low, high, match):
    with pytest.raises(ValueError, match=match):
        InputDomain.from_bounds(low, high)


def test_mean_scale_domain_is_clipped_to_optional_bounds():
    d = InputDomain.from_mean_scale([0, 0], [1, 10], low=[-0.5, -1], high=[0.5, 1])
    x = _sample(d)
    assert d.contains(x)
    assert x[:, 0].min() == pytest.approx(-0.5)


def test_data_domain_follows_the_rows_and_keeps_constant_features_constant():
    rng = np.random.default_rng(0)
    a = rng.normal(size=500)
    X = np.column_stack([a, 2 * a + 0.01 * rng.normal(size=500), np.full(500, 7.0)])
    d = InputDomain.from_data(X)
    x = _sample(d, 5000)
    assert d.contains(x)
    assert np.all(x[:, 2] == 7.0)
    # Empirical queries keep the correlation between the first two features.
    assert np.corrcoef(x[:, 0], x[:, 1])[0, 1] > 0.95
    assert d.input_scale[2] == 1.0  # no division by zero when standardising


def test_data_domain_needs_two_rows():
    with pytest.raises(ValueError, match="at least 2 rows"):
        InputDomain.from_data(np.ones((1, 3)))


def test_unit_space_round_trip():
    d = InputDomain.from_mean_scale([1.0, -2.0], [2.0, 0.5])
    z = torch.randn(100, 2)
    torch.testing.assert_close(d.to_unit(d.to_input(z)), z)


@pytest.mark.parametrize(
    "param, expected",
    [
        ({"low": [0, 0], "high": [1, 2]}, "uniform"),
        ({"loc": [0, 0], "scale": [1, 2]}, "normal"),
        ({"mean": [0, 0], "scale": [1, 2], "low": [-1, -1], "high": [1, 1]}, "normal"),
    ],
)
def test_domain_parameter_dicts(param, expected):
    d = InputDomain.from_param(param, 2)
    assert d.distribution == expected


@pytest.mark.parametrize(
    "param, error, match",
    [
        ({"low": [0, 0]}, ValueError, "domain dict needs"),
        ({"loc": [0, 0], "mean": [0, 0], "scale": [1, 1]}, ValueError, "not both"),
        ({"low": [0, 0, 0], "high": [1, 1, 1]}, ValueError, "teacher takes 2"),
        ([0, 1], TypeError, "dict or an InputDomain"),
    ],
)
def test_bad_domain_parameters(param, error, match):
    with pytest.raises(error, match=match):
        InputDomain.from_param(param, 2)


def test_negative_scale_and_nan_are_rejected():
    with pytest.raises(ValueError, match="scale must be >= 0"):
        InputDomain([0.0], [-1.0])
    with pytest.raises(ValueError, match="NaN"):
        InputDomain([np.nan], [1.0])
