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


def test_data_domain_mixes_each_row_with_its_nearest_neighbour():
    # Two far-apart pairs of rows: a query mixes a row with its pair only,
    # its values moved (MUNGE) around the neighbour's by their distance.
    X = np.array([[0.0, 0.0], [1.5, 1.5], [100.5, 100.5], [101.5, 103.5]])
    d = InputDomain.from_data(X)
    assert (d.swap_probability, d.jitter) == (0.5, 0.0)
    x = _sample(d, 4000)
    near_first = x[:, 0] < 50
    assert np.all(x[near_first] < 20) and np.all(x[~near_first] > 80)
    # Half the values are a row's own (more, as the bounds clip swapped ones
    # onto the extreme rows' values); the others spread around the neighbour.
    own = np.isin(x.round(3), X)
    assert 0.5 < own.mean() < 0.75
    assert np.unique(x[~own]).size > 1000
    # Without swaps and jitter, queries are the rows themselves.
    rows = InputDomain.from_data(X, swap_probability=0.0)
    queries = np.unique(_sample(rows, 500).round(3), axis=0)
    np.testing.assert_array_equal(queries, X)


def test_swapped_categories_take_the_neighbours_level():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=300), rng.integers(0, 5, 300) * 2.0])
    d = InputDomain.from_data(X, categories={1: [0, 2, 4, 6, 8]}, swap_probability=1)
    x = _sample(d, 3000)
    assert set(np.unique(x[:, 1])) <= {0, 2, 4, 6, 8}


def test_neighbours_are_exact_with_or_without_the_k_d_tree():
    from scipy.spatial.distance import cdist

    from skdistill._domain import _nearest_other

    rng = np.random.default_rng(0)
    for n_features in (3, 40):
        points = rng.normal(size=(700, n_features))
        distance = cdist(points, points)
        np.fill_diagonal(distance, np.inf)
        np.testing.assert_array_equal(
            _nearest_other(points, chunk=256), distance.argmin(axis=1)
        )


def test_duplicate_rows_are_not_each_others_neighbours():
    X = np.array([[0.0, 0.0]] * 3 + [[1.0, 1.0], [5.0, 5.0]])
    d = InputDomain.from_data(X, swap_probability=1)
    np.testing.assert_array_equal(d.rows[d._neighbours()][:3], [[1.0, 1.0]] * 3)


def test_swap_probability_needs_rows():
    with pytest.raises(ValueError, match="swap_probability"):
        InputDomain(np.zeros(2), np.ones(2), swap_probability=0.5)


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


def _corner_boxes(uniform_fraction):
    """A domain on [0, 10] x {0..10} x {1, 5, 7} whose one box is a corner."""
    return InputDomain(
        [5.0, 5.0, 4.0],
        [3.0, 3.0, 2.0],
        low=[0, 0, 1],
        high=[10, 10, 7],
        distribution="boxes",
        marginals=[np.linspace(0, 10, 50), np.arange(11.0), np.array([1.0, 5, 7])],
        boxes=(np.array([[0.0, 0, 1]]), np.array([[1.0, 1, 1]]), np.ones(1)),
        integer=[False, True, True],
        categories={2: [1.0, 5.0, 7.0]},
        uniform_fraction=uniform_fraction,
    )


def test_uniform_fraction_mixes_the_whole_box_into_the_boxes():
    x = _sample(_corner_boxes(0.5), 6000)
    in_corner = (x[:, 0] <= 1) & (x[:, 1] <= 1) & (x[:, 2] == 1)
    # Half from the corner box, half uniform (which lands there rarely).
    assert 0.45 < in_corner.mean() < 0.56
    rest = x[~in_corner]
    # The whole box: every integer, end points included, and every category,
    # each about equally often.
    counts = np.bincount(rest[:, 1].astype(int), minlength=11)
    assert counts.size == 11 and counts.min() > 0.5 * counts.mean(), counts
    for value in (1.0, 5.0, 7.0):
        assert 0.25 < np.mean(rest[:, 2] == value) < 0.45
    assert rest[:, 0].max() > 9.5 and np.all(_sample(_corner_boxes(0.0))[:, 0] <= 1)


@pytest.mark.parametrize("uniform_fraction", [-0.1, 1.5])
def test_uniform_fraction_must_be_a_share(uniform_fraction):
    with pytest.raises(ValueError, match="uniform_fraction must be in"):
        _corner_boxes(uniform_fraction)
    with pytest.raises(ValueError, match="uniform_fraction must be in"):
        InputDomain([0.0], [1.0], uniform_fraction=0.5)  # not a boxes domain
