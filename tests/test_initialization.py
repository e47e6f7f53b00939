import warnings

import numpy as np
import pytest
import torch
from conftest import FAST, fidelity_r2, make_mlp, teacher_predict
from numpy.testing import assert_allclose
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from torch import nn

from skdistill import (
    DataFreeDistillRegressor,
    InputDomain,
    MLPStudent,
    StandardizedModule,
    StudentNet,
)
from skdistill._initialization import find_first_layer, init_from_first_layer
from skdistill._teachers import as_teacher


def _units(n_features, n_outputs=1):
    return StandardizedModule(
        nn.Identity(),
        torch.zeros(n_features),
        torch.ones(n_features),
        torch.zeros(n_outputs),
        torch.ones(n_outputs),
    )


def _labels(teacher, x):
    with torch.no_grad():
        return teacher(x)


def test_a_student_as_wide_as_its_teacher_starts_as_its_copy():
    teacher = make_mlp(n_features=8, hidden=16, n_outputs=2, seed=1)
    first_layer, reason = find_first_layer(
        as_teacher(teacher), torch.randn(16, 8), np.ones(8)
    )
    assert reason is None and first_layer.origin == "Sequential.0 (Linear 8 -> 16)"
    torch.manual_seed(0)
    student = MLPStudent(8, n_outputs=2, hidden_layer_sizes=(16,))
    x = torch.randn(2048, 8)
    record = init_from_first_layer(
        student, first_layer, x, _labels(teacher, x), _units(8, 2)
    )
    assert record["applied"] and record["r2"] > 0.9999
    assert record["n_units"] == record["n_teacher_units"] == 16
    fresh = torch.randn(500, 8)
    with torch.no_grad():
        assert_allclose(student(fresh), teacher(fresh), atol=1e-3)


def test_the_most_important_teacher_units_come_first():
    torch.manual_seed(0)
    teacher = make_mlp(n_features=4, hidden=6, seed=2)
    with torch.no_grad():  # units 3 and 5 carry the output; the rest barely
        teacher[2].weight.copy_(torch.tensor([[1e-3, 1e-3, 1e-3, 2.0, 1e-3, -3.0]]))
    first_layer, _ = find_first_layer(
        as_teacher(teacher), torch.randn(8, 4), np.ones(4)
    )
    student = MLPStudent(4, hidden_layer_sizes=(2,))
    x = torch.randn(4096, 4)
    init_from_first_layer(student, first_layer, x, _labels(teacher, x), _units(4))
    chosen = {
        int(np.flatnonzero((teacher[0].weight == row).all(dim=1))[0])
        for row in student.layers[0].weight
    }
    assert chosen == {3, 5}


def test_features_the_student_ignores_start_with_zero_weights():
    teacher = make_mlp(n_features=5, hidden=8, seed=3)
    first_layer, _ = find_first_layer(
        as_teacher(teacher), torch.randn(8, 5), np.ones(5)
    )
    student = MLPStudent(5, hidden_layer_sizes=(8,))
    x = torch.randn(1024, 5)
    ignored = np.array([False, True, False, False, True])
    init_from_first_layer(
        student, first_layer, x, _labels(teacher, x), _units(5), ignored
    )
    weight = student.layers[0].weight.detach().numpy()
    assert np.all(weight[:, ignored] == 0) and np.all(weight[:, ~ignored] != 0)


def test_teacher_initialised_student_copies_its_teacher_better_at_a_small_budget():
    teacher = make_mlp(n_features=8, hidden=32, seed=0)
    X = torch.randn(2000, 8).numpy()
    r2 = {}
    for init in ("random", "auto"):
        d = DataFreeDistillRegressor(
            teacher, hidden_layer_sizes=(32,), student_init=init, **FAST
        ).fit()
        r2[init] = fidelity_r2(d.predict(X), teacher_predict(teacher, X).ravel())
    assert d.student_init_["method"] == "teacher"
    assert d.student_init_["n_queries"] == FAST["round_size"]
    assert r2["auto"] > 0.99 and r2["auto"] > r2["random"] + 0.02


def test_queries_that_initialise_the_student_count_in_the_budget_and_train_it(
    mlp_teacher,
):
    d = DataFreeDistillRegressor(mlp_teacher, **FAST).fit()
    assert d.student_init_["method"] == "teacher"
    assert d.n_teacher_queries_ == FAST["max_queries"]
    # ... and train the student: its first round has their steps too.
    batches = d.n_passes_ * d.round_size // d.batch_size
    assert d.history_[0, "train_batch_count"] == 2 * batches
    assert d.history_[1, "train_batch_count"] == batches


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pipeline_of_affine_steps_and_mlp_reveals_the_first_layer_in_raw_units(
    friedman,
):
    X, y = friedman
    teacher = make_pipeline(
        StandardScaler(), MLPRegressor(hidden_layer_sizes=(12,), max_iter=50)
    ).fit(X, y)
    first_layer, reason = find_first_layer(
        as_teacher(teacher), torch.as_tensor(X[:16], dtype=torch.float32), X.std(0)
    )
    assert reason is None and "after StandardScaler" in first_layer.origin
    mlp = teacher[-1]
    expected = teacher[0].transform(X[:50]) @ mlp.coefs_[0] + mlp.intercepts_[0]
    got = X[:50] @ first_layer.weight.double().numpy().T + first_layer.bias.numpy()
    assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_non_affine_pipeline_steps_leave_the_student_random(friedman):
    X, y = friedman
    teacher = make_pipeline(
        PolynomialFeatures(2), MLPRegressor(hidden_layer_sizes=(8,), max_iter=20)
    ).fit(X, y)
    d = DataFreeDistillRegressor(teacher, **FAST).fit(X)
    assert d.student_init_["method"] == "random"
    assert "not an affine map" in d.student_init_["reason"]


def test_a_torch_teacher_that_transforms_its_inputs_first_leaves_the_student_random():
    class Shifted(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = make_mlp(n_features=4, hidden=8)

        def forward(self, x):
            return self.net(2 * x + 1)

    d = DataFreeDistillRegressor(Shifted(), **FAST).fit()
    assert d.student_init_["method"] == "random"
    assert "does not take the raw queries" in d.student_init_["reason"]


def test_forest_teacher_starts_at_random_and_student_init_teacher_says_why(
    forest, friedman_bounds
):
    d = DataFreeDistillRegressor(
        forest, domain=friedman_bounds, hidden_layer_sizes=(50,), **FAST
    ).fit()
    assert d.student_init_ == {
        "method": "random",
        "reason": "the teacher has no first layer to read (not a network)",
    }
    with pytest.raises(ValueError, match="student_init='teacher' cannot start"):
        DataFreeDistillRegressor(
            forest, domain=friedman_bounds, student_init="teacher", **FAST
        ).fit()


def test_units_that_fit_the_teacher_poorly_are_not_an_auto_start():
    # Two tanh units cannot carry a teacher of 64 steep ones.
    teacher = make_mlp(n_features=8, hidden=64, seed=4)
    with torch.no_grad():
        teacher[0].weight.mul_(4)
    kwargs = dict(FAST, hidden_layer_sizes=(2,))
    auto = DataFreeDistillRegressor(teacher, **kwargs).fit()
    assert auto.student_init_["method"] == "random"
    assert auto.student_init_["r2"] < 0.8 and "R²" in auto.student_init_["reason"]
    forced = DataFreeDistillRegressor(teacher, student_init="teacher", **kwargs).fit()
    assert forced.student_init_["method"] == "teacher"
    assert forced.student_init_["r2"] == pytest.approx(auto.student_init_["r2"])


def test_deeper_students_start_from_the_teacher_only_when_asked(mlp_teacher):
    kwargs = dict(FAST, hidden_layer_sizes=(16, 8))
    auto = DataFreeDistillRegressor(mlp_teacher, **kwargs).fit()
    assert auto.student_init_["method"] == "random"
    assert "one-hidden-layer" in auto.student_init_["reason"]
    forced = DataFreeDistillRegressor(mlp_teacher, student_init="teacher", **kwargs)
    forced.fit()
    assert forced.student_init_["method"] == "teacher"
    assert forced.student_init_["n_units"] == 16


def test_custom_student_modules_other_than_mlp_start_at_random(mlp_teacher):
    class Linear(nn.Module):
        def __init__(self, n_features=8):
            super().__init__()
            self.layer = nn.Linear(n_features, 1)

        def forward(self, x):
            return self.layer(x)

    d = DataFreeDistillRegressor(mlp_teacher, student=StudentNet(Linear), **FAST).fit()
    assert d.student_init_["method"] == "random"
    assert "not an MLPStudent" in d.student_init_["reason"]
    mlp = StudentNet(MLPStudent, module__n_features=8)
    d = DataFreeDistillRegressor(mlp_teacher, student=mlp, **FAST).fit()
    assert d.student_init_["method"] == "teacher"


def test_random_init_and_warm_start_record_how_the_student_started(mlp_teacher):
    d = DataFreeDistillRegressor(mlp_teacher, student_init="random", **FAST).fit()
    assert d.student_init_ == {"method": "random", "reason": "student_init='random'"}
    d.set_params(student_init="auto", warm_start=True).fit()
    assert d.student_init_["method"] == "carried"


def test_empirical_domains_initialise_on_their_rows(friedman):
    X, _ = friedman
    teacher = make_mlp(n_features=10, hidden=16, seed=5)
    d = DataFreeDistillRegressor(teacher, **FAST).fit(X)
    assert d.domain_.distribution == "empirical"
    assert d.student_init_["method"] == "teacher" and d.student_init_["r2"] > 0.99


def test_domain_shift_of_inputs_is_folded_into_the_first_layer():
    teacher = make_mlp(n_features=3, hidden=8, seed=6)
    loc, scale = np.array([10.0, -5.0, 0.0]), np.array([2.0, 0.5, 3.0])
    domain = InputDomain.from_mean_scale(loc, scale)
    d = DataFreeDistillRegressor(
        teacher, domain=domain, hidden_layer_sizes=(8,), **FAST
    ).fit()
    assert d.student_init_["method"] == "teacher" and d.student_init_["r2"] > 0.999


class _NaNOnCall(nn.Module):
    """A tanh MLP that answers NaN to every query of its ``nan_call``-th call."""

    def __init__(self, nan_call):
        super().__init__()
        self.net = make_mlp(n_features=8, hidden=16)
        self.nan_call = nan_call
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        y = self.net(x)
        return torch.full_like(y, float("nan")) if self.calls == self.nan_call else y


@pytest.mark.filterwarnings("ignore::skdistill.exceptions.InvalidTeacherOutputWarning")
def test_a_start_the_teacher_leaves_unanswered_is_random_or_an_error():
    # Calls: the probe, the hold-out, its input gradients (noise_features), the
    # first-layer check, the start's queries.
    d = DataFreeDistillRegressor(_NaNOnCall(nan_call=5), **FAST).fit()
    assert d.student_init_["method"] == "random"
    assert "answered 0 of the 512 queries" in d.student_init_["reason"]
    with pytest.raises(ValueError, match="answered 0 of the 512 queries"):
        DataFreeDistillRegressor(
            _NaNOnCall(nan_call=5), student_init="teacher", **FAST
        ).fit()


# -- students without hidden layers: least squares ---------------------------
def test_a_degree_two_student_takes_the_monomials_of_polynomial_features():
    x = torch.randn(20, 3)
    student = MLPStudent(3, hidden_layer_sizes=(), degree=2)
    expected = PolynomialFeatures(2, include_bias=False).fit_transform(x.numpy())
    assert_allclose(student.expand(x).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_least_squares_start_is_exact_for_a_teacher_of_its_form():
    from skdistill._initialization import init_least_squares

    x = torch.randn(500, 3, dtype=torch.float64)
    y = (2 * x[:, :1] * x[:, 1:2] - x[:, 2:] ** 2 + 0.5 * x[:, :1] + 3).float()
    student = MLPStudent(3, hidden_layer_sizes=(), degree=2)
    record = init_least_squares(student, x.float(), y, _units(3))
    assert record["r2"] > 1 - 1e-9
    with torch.no_grad():
        assert_allclose(student(x.float()).numpy(), y.numpy(), atol=1e-4)
    # A feature the student ignores gets no weight in any of its terms.
    ignored = np.array([False, False, True])
    init_least_squares(student, x.float(), y, _units(3), ignored=ignored)
    weight = student.layers[0].weight.detach().numpy().ravel()
    names = PolynomialFeatures(2, include_bias=False).fit(x.numpy()).powers_
    assert np.all(weight[names[:, 2] > 0] == 0)
    assert np.all(weight[names[:, 2] == 0] != 0)


def test_polynomial_teacher_on_raw_columns_gets_its_own_form_without_data():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    # Raw columns far from the N(0, 1) queries a domain-less fit uses, one in
    # the millions: its square's coefficient is invisible near the origin.
    X = np.column_stack(
        [rng.normal(300, 50, 400), rng.uniform(1e3, 5e3, 400), rng.gamma(1, 1e6, 400)]
    )
    y = X[:, 0] * X[:, 1] / 1e3 - X[:, 0] + X[:, 2] / 1e5 + rng.normal(0, 5, 400)
    teacher = make_pipeline(PolynomialFeatures(2), Ridge()).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "standard normal" warning: none needed
        distiller = DataFreeDistillRegressor(teacher, **FAST).fit()
    assert distiller.hidden_layer_sizes_ == ()
    assert distiller.student_degree_ == 2
    assert distiller.student_init_["method"] == "teacher"
    assert fidelity_r2(distiller.predict(X), teacher.predict(X)) > 0.9999
    # The rounds come close on the hold-out only; the student keeps its start.
    assert distiller.holdout_r2_ >= max(distiller.history_[:, "holdout_r2"])
    assert not any(distiller.history_[:, "holdout_loss_best"])
    # hidden_layer_sizes given: the student is the MLP asked for.
    mlp = DataFreeDistillRegressor(teacher, hidden_layer_sizes=(8,), **FAST)
    with pytest.warns(UserWarning, match="standard normal"):
        mlp.fit()
    assert mlp.student_degree_ == 1
