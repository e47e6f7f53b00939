"""Property-based tests (hypothesis) for input domains and query strategies.

Whatever the domain (a box, a mean and scale with or without bounds, rows
with integer columns, per-feature marginals with categories, a tree's
leaves) and whatever the strategy, queries are finite float32 arrays of the
asked shape, inside the domain, integer where the domain says so.
"""

import numpy as np
import pytest
import torch
from conftest import make_mlp
from faulty_teachers import SineTeacher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone
from sklearn.tree import DecisionTreeRegressor

from skdistill import (
    BoundedGapQueries,
    GaussianQueries,
    GeneratorQueries,
    InputDomain,
    LatinHypercubeQueries,
    QueryContext,
    UniformQueries,
)
from skdistill._introspection import infer_domain
from skdistill._teachers import as_teacher

FAST = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
values = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32)
widths = st.floats(0.015625, 1024, allow_nan=False, width=32)


def _vector(draw, d, elements):
    return np.array(draw(st.lists(elements, min_size=d, max_size=d)), dtype=np.float64)


@st.composite
def domains(draw):
    """Every kind of domain the estimator builds, with random shapes and values."""
    d = draw(st.integers(1, 5))
    kind = draw(
        st.sampled_from(["normal", "box", "mean_scale", "rows", "marginal", "tree"])
    )
    if kind == "normal":
        return InputDomain.standard_normal(d)
    if kind == "box":
        low = _vector(draw, d, values)
        return InputDomain.from_bounds(low, low + _vector(draw, d, widths))
    if kind == "mean_scale":
        loc = _vector(draw, d, values)
        scale = _vector(draw, d, st.floats(0, 100, width=32))  # 0: a constant
        if not draw(st.booleans()):
            return InputDomain.from_mean_scale(loc, scale)
        low = loc - _vector(draw, d, widths)  # loc may even lie outside
        return InputDomain.from_mean_scale(
            loc, scale, low=low, high=low + _vector(draw, d, widths)
        )
    n = draw(st.integers(2, 30))
    rows = draw(arrays(np.float64, (n, d), elements=values))
    integer = np.array(draw(st.lists(st.booleans(), min_size=d, max_size=d)))
    rows[:, integer] = np.round(rows[:, integer])
    if kind == "rows":
        return InputDomain.from_data(rows)
    if kind == "tree":
        y = draw(arrays(np.float64, n, elements=values))
        tree = DecisionTreeRegressor(max_depth=3, random_state=0).fit(rows, y)
        return infer_domain(tree, d, random_state=0) or InputDomain.standard_normal(d)
    # Per-feature marginals; integer features get integer bounds; the first
    # feature may be categorical (queries snap to its values).
    marginals = [np.unique(rows[:, j]) for j in range(d)]
    categories = {0: marginals[0]} if draw(st.booleans()) else None
    return InputDomain(
        rows.mean(axis=0),
        rows.std(axis=0),
        low=rows.min(axis=0),
        high=rows.max(axis=0),
        distribution="marginal",
        marginals=marginals,
        integer=integer,
        categories=categories,
        source="hypothesis: marginal",
    )


def _assert_valid_queries(x, n, domain):
    assert isinstance(x, torch.Tensor)
    assert x.shape == (n, domain.n_features)
    assert x.dtype == torch.float32
    assert torch.isfinite(x).all()
    assert domain.contains(x)
    x = x.double().numpy()
    integer = np.flatnonzero(domain.integer)
    np.testing.assert_array_equal(x[:, integer], np.round(x[:, integer]))
    for j, categories in domain.categories.items():
        assert np.isin(x[:, j], categories.astype(np.float32)).all()


@FAST
@given(domain=domains(), n=st.integers(1, 300), seed=st.integers(0, 2**31 - 1))
def test_domain_samples_are_finite_float32_queries_inside_it(domain, n, seed):
    x = domain.sample(n, torch.Generator().manual_seed(seed))
    _assert_valid_queries(x, n, domain)


@FAST
@given(domain=domains(), data=st.data())
def test_any_unit_space_point_maps_inside_the_domain(domain, data):
    """Strategies step anywhere in the unit space; the map must bring them back."""
    n = data.draw(st.integers(1, 50))
    z = data.draw(
        arrays(
            np.float32,
            (n, domain.n_features),
            elements=st.floats(-1e6, 1e6, allow_nan=False, width=32),
        )
    )
    z = torch.from_numpy(z)
    _assert_valid_queries(domain.to_input(z), n, domain)
    _assert_valid_queries(domain.to_input(domain.clip_unit(z)), n, domain)


@FAST
@given(
    low=arrays(np.float64, 3, elements=values),
    gap=arrays(np.float64, 3, elements=st.floats(-1e3, 0, width=32)),
)
def test_bounds_with_low_not_below_high_are_rejected(low, gap):
    with pytest.raises(ValueError, match="low must be < high"):
        InputDomain.from_bounds(low, low + gap)


STRATEGIES = {
    "gaussian": lambda: GaussianQueries(),
    "uniform": lambda: UniformQueries(),
    "lhs": lambda: LatinHypercubeQueries(),
    "bounded_gap": lambda: BoundedGapQueries(),
    "bounded_gap_evolve": lambda: BoundedGapQueries(black_box="evolve"),
    "generator": lambda: GeneratorQueries(hidden_size=16, batch_size=32),
}


def _context(domain, white_box, seed):
    d = domain.n_features
    teacher = make_mlp(d, hidden=8, seed=1) if white_box else SineTeacher(d)
    return QueryContext(
        teacher=as_teacher(teacher, n_features=d, device="cpu"),
        student=make_mlp(d, hidden=8, seed=2),
        domain=domain,
        y_loc=torch.zeros(1, 1),
        y_scale=torch.ones(1, 1),
        generator=torch.Generator().manual_seed(seed),
        rng=np.random.default_rng(seed),
        device=torch.device("cpu"),
    )


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("white_box", [True, False], ids=["white box", "black box"])
@FAST
@given(
    domain=domains(),
    n=st.integers(1, 200),
    progress=st.floats(0, 1),
    seed=st.integers(0, 2**31 - 1),
)
def test_strategy_queries_are_finite_float32_inside_the_domain(
    name, white_box, domain, n, progress, seed
):
    strategy = clone(STRATEGIES[name]())
    if strategy.requires_gradients and not white_box:
        return  # refused at start, with its own test
    context = _context(domain, white_box, seed)
    strategy.start(context)
    for round_progress in (progress, 1.0 - progress):  # a second round: archives
        context.progress = round_progress
        made = strategy.generate(n, context)
        x = made[0] if isinstance(made, tuple) else made
        _assert_valid_queries(x.detach(), n, domain)
        if isinstance(made, tuple):
            assert made[1].shape == (n, 1) and made[1].dtype == torch.float32
            y = made[1]
        else:
            y = context.teacher.predict(x.detach())
        strategy.observe(x.detach(), y, context)
