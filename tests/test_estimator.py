import pickle
import warnings

import numpy as np
import pytest
import torch
from conftest import RecordingTeacher, fidelity_r2, teacher_predict
from sklearn.base import clone
from sklearn.datasets import make_friedman1
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import GridSearchCV
from skorch import NeuralNetRegressor
from torch import nn

from skdistill import DataFreeDistillRegressor, MLPStudent

SMALL = dict(max_queries=30_000, round_size=2048, n_holdout=512)  # a few seconds


@pytest.mark.parametrize(
    "strategy", ["gaussian", "uniform", "lhs", "generator", "bounded_gap"]
)
def test_every_strategy_distills_a_torch_teacher(strategy, mlp_teacher):
    d = DataFreeDistillRegressor(
        mlp_teacher, query_strategy=strategy, random_state=0, **SMALL
    ).fit()
    X = np.random.default_rng(1).standard_normal((1000, 8)).astype(np.float32)
    pred = d.predict(X)
    assert pred.shape == (1000, 1)  # shaped like the teacher's own output
    assert fidelity_r2(pred, teacher_predict(mlp_teacher, X)) > 0.8
    assert d.n_teacher_queries_ == SMALL["max_queries"]


@pytest.mark.parametrize("strategy", ["gaussian", "uniform", "lhs", "bounded_gap"])
def test_black_box_forest_teacher(strategy, friedman, forest, friedman_bounds):
    X, _ = friedman
    d = DataFreeDistillRegressor(
        forest,
        query_strategy=strategy,
        domain=friedman_bounds,
        max_queries=40_000,
        random_state=0,
    ).fit()
    pred = d.predict(X)
    assert pred.shape == (X.shape[0],)
    assert fidelity_r2(pred, forest.predict(X)) > 0.85


def test_generator_strategy_needs_a_white_box_teacher(forest, friedman_bounds):
    d = DataFreeDistillRegressor(
        forest, query_strategy="generator", domain=friedman_bounds, **SMALL
    )
    with pytest.raises(ValueError, match="needs teacher gradients"):
        d.fit()


def _ridge_teacher(n_features=20, seed=0):
    """A teacher that is flat near the origin and varies only far out.

    Each unit switches on where a random direction's projection passes 3:
    Gaussian queries rarely go there; gap-seeking queries do.
    """
    torch.manual_seed(seed)
    layer = nn.Linear(n_features, 16)
    with torch.no_grad():
        layer.weight.copy_(nn.functional.normalize(torch.randn(16, n_features), dim=1))
        layer.bias.fill_(-3.0)
    out = nn.Linear(16, 1)
    with torch.no_grad():
        out.weight.fill_(1.0)
        out.bias.zero_()
    return nn.Sequential(layer, nn.Softplus(beta=4), out)


def test_bounded_gap_beats_gaussian_where_the_teacher_varies_far_out():
    teacher = _ridge_teacher()
    X = 2.5 * np.random.default_rng(0).standard_normal((4000, 20)).astype(np.float32)
    target = teacher_predict(teacher, X)
    scores = {}
    for strategy in ["gaussian", "bounded_gap"]:
        d = DataFreeDistillRegressor(
            teacher, query_strategy=strategy, random_state=0, **SMALL
        ).fit()
        scores[strategy] = fidelity_r2(d.predict(X), target)
    assert scores["bounded_gap"] > scores["gaussian"] + 0.1, scores


def test_multi_output_teacher_gives_multi_output_student(friedman, friedman_bounds):
    X, y = friedman
    Y = np.column_stack([y, -2 * y + 5])
    teacher = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, Y)
    d = DataFreeDistillRegressor(
        teacher, domain=friedman_bounds, random_state=0, **SMALL
    ).fit()
    pred = d.predict(X)
    assert d.n_outputs_ == 2
    assert pred.shape == (X.shape[0], 2)
    assert fidelity_r2(pred, teacher.predict(X)) > 0.8


def test_same_random_state_same_student(mlp_teacher):
    def weights(seed):
        d = DataFreeDistillRegressor(mlp_teacher, random_state=seed, **SMALL).fit()
        return [p.detach().clone() for p in d.student_.module_.parameters()]

    first, again, other = weights(3), weights(3), weights(4)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


def test_fit_leaves_global_torch_rng_alone(mlp_teacher):
    torch.manual_seed(123)
    state = torch.get_rng_state()
    DataFreeDistillRegressor(mlp_teacher, random_state=0, **SMALL).fit()
    assert torch.equal(torch.get_rng_state(), state)


def test_teacher_is_neither_refit_nor_modified(mlp_teacher, forest, friedman_bounds):
    mlp_teacher.train()
    before = [p.detach().clone() for p in mlp_teacher.parameters()]
    DataFreeDistillRegressor(mlp_teacher, random_state=0, **SMALL).fit()
    assert mlp_teacher.training
    assert all(p.requires_grad for p in mlp_teacher.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, mlp_teacher.parameters()))

    estimators = list(forest.estimators_)
    DataFreeDistillRegressor(forest, domain=friedman_bounds, **SMALL).fit()
    assert forest.estimators_ == estimators


def test_fitted_skorch_teacher_is_a_white_box(friedman):
    X, y = friedman
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    net = NeuralNetRegressor(
        MLPStudent,
        module__n_features=10,
        max_epochs=30,
        lr=0.05,
        verbose=0,
        train_split=None,
    ).fit(X, y.reshape(-1, 1).astype(np.float32))
    d = DataFreeDistillRegressor(net, random_state=0, **SMALL).fit(X)
    assert d.n_features_in_ == 10
    assert fidelity_r2(d.predict(X), net.predict(X)) > 0.9


def test_unlabelled_rows_shape_the_domain_and_labels_are_ignored(friedman, forest):
    X, y = friedman
    recorder = RecordingTeacher(forest)
    d = DataFreeDistillRegressor(recorder, random_state=0, **SMALL).fit(X)
    assert d.domain_.distribution == "empirical"
    assert "fit(X)" in d.domain_.source
    queries = recorder.all_queries()
    assert np.all(queries >= X.min(0) - 1e-6) and np.all(queries <= X.max(0) + 1e-6)

    with_y = DataFreeDistillRegressor(forest, random_state=0, **SMALL).fit(X, -y)
    without_y = DataFreeDistillRegressor(forest, random_state=0, **SMALL).fit(X)
    np.testing.assert_array_equal(with_y.predict(X), without_y.predict(X))


def test_every_query_lies_in_an_explicit_domain(friedman, forest):
    low, high = np.full(10, 0.2), np.full(10, 0.7)
    recorder = RecordingTeacher(forest)
    DataFreeDistillRegressor(
        recorder, domain={"low": low, "high": high}, random_state=0, **SMALL
    ).fit()
    queries = recorder.all_queries()
    assert len(queries) == SMALL["max_queries"]
    assert queries.min() >= 0.2 - 1e-6 and queries.max() <= 0.7 + 1e-6


def test_history_records_every_round(mlp_teacher):
    # From random weights, so that the rounds have something to improve.
    d = DataFreeDistillRegressor(
        mlp_teacher, student_init="random", random_state=0, **SMALL
    ).fit()
    n_queries = d.history_[:, "n_queries"]
    assert len(d.history_) == -(-(30_000 - 512 - 16) // 2048)
    assert np.all(np.diff(n_queries) > 0) and n_queries[-1] == 30_000
    for key in ["train_loss", "holdout_loss", "holdout_rmse", "holdout_r2", "seconds"]:
        assert np.all(np.isfinite(d.history_[:, key])), key
    assert d.history_[-1, "holdout_r2"] > d.history_[0, "holdout_r2"]


def test_student_is_a_skorch_net_in_teacher_units(friedman, forest, friedman_bounds):
    X, _ = friedman
    d = DataFreeDistillRegressor(forest, domain=friedman_bounds, **SMALL).fit()
    assert isinstance(d.student_, NeuralNetRegressor)
    np.testing.assert_allclose(
        d.student_.predict(X.astype(np.float32)).ravel(), d.predict(X), rtol=1e-6
    )


def test_custom_student_net_is_cloned_and_trained(mlp_teacher):
    student = NeuralNetRegressor(
        MLPStudent,
        module__n_features=8,
        module__hidden_layer_sizes=(16, 16),
        optimizer=torch.optim.Adam,
        lr=3e-3,
    )
    d = DataFreeDistillRegressor(
        mlp_teacher, student=student, random_state=0, **SMALL
    ).fit()
    assert not hasattr(student, "module_")  # the user's net stays unfitted
    assert d.student_.module_.inner.layers[2].out_features == 16
    X = np.random.default_rng(0).standard_normal((500, 8)).astype(np.float32)
    assert fidelity_r2(d.predict(X), teacher_predict(mlp_teacher, X)) > 0.8


def test_clone_keeps_the_fitted_teacher(forest, friedman, friedman_bounds):
    d = DataFreeDistillRegressor(forest, domain=friedman_bounds, max_queries=10_000)
    cloned = clone(d)
    assert cloned.teacher is forest
    assert cloned.get_params()["max_queries"] == 10_000

    X, y = friedman
    search = GridSearchCV(
        DataFreeDistillRegressor(forest, random_state=0, **SMALL),
        {"hidden_layer_sizes": [(8,), (32,)]},
        cv=2,
    ).fit(X, y)
    assert search.best_estimator_.teacher is forest
    assert search.best_score_ > 0.5


def test_pickle_round_trip_predicts_the_same(friedman, forest, friedman_bounds):
    X, _ = friedman
    d = DataFreeDistillRegressor(forest, domain=friedman_bounds, **SMALL).fit()
    again = pickle.loads(pickle.dumps(d))
    np.testing.assert_array_equal(again.predict(X), d.predict(X))


def test_device_auto_resolves_and_is_recorded(mlp_teacher):
    d = DataFreeDistillRegressor(mlp_teacher, **SMALL).fit()
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert d.device_.type == expected


def test_max_time_stops_early_with_a_usable_student(mlp_teacher):
    d = DataFreeDistillRegressor(
        mlp_teacher, max_queries=10_000_000, max_time=1.0, random_state=0
    ).fit()
    assert d.n_teacher_queries_ < 10_000_000
    assert d.history_[-1, "seconds"] < 10
    X = np.random.default_rng(0).standard_normal((100, 8)).astype(np.float32)
    assert np.isfinite(d.predict(X)).all()


def test_n_iter_no_change_stops_and_restores_the_best_round(mlp_teacher):
    d = DataFreeDistillRegressor(
        mlp_teacher,
        max_queries=400_000,
        round_size=1024,
        n_iter_no_change=2,
        learning_rate=0.05,
        random_state=0,
    ).fit()
    losses = d.history_[:, "holdout_loss"]
    assert len(losses) < -(-400_000 // 1024)
    x, y = d._holdout  # the synthetic hold-out set the rounds were scored on
    with torch.no_grad():
        pred = d.student_.module_(x)
    restored = float((((pred - y) / y.std(dim=0)) ** 2).mean())
    assert restored == pytest.approx(min(losses), rel=1e-4)
    assert min(losses) < losses[-1]


def test_n_features_is_required_when_the_teacher_hides_it(forest):
    class Opaque:
        def predict(self, X):
            return forest.predict(X)

    box = {"low": np.zeros(10), "high": np.ones(10)}
    with pytest.raises(ValueError, match="Pass n_features"):
        DataFreeDistillRegressor(Opaque(), domain=box, **SMALL).fit()
    d = DataFreeDistillRegressor(
        Opaque(), n_features=10, domain=box, random_state=0, **SMALL
    ).fit()
    assert d.n_features_in_ == 10


def test_wrong_n_features_for_teacher_is_an_error(forest):
    with pytest.raises(ValueError, match="disagrees"):
        DataFreeDistillRegressor(forest, n_features=3, **SMALL).fit()


def test_fit_uses_one_torch_thread_on_cpu_and_restores_the_setting(mlp_teacher):
    seen = []

    class Spy(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            seen.append(torch.get_num_threads())
            return self.inner(x)

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        DataFreeDistillRegressor(
            Spy(mlp_teacher), n_features=8, device="cpu", **SMALL
        ).fit()
        assert set(seen) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_default_student_uses_torchs_fused_adam_where_torch_has_it(mlp_teacher):
    from skdistill._student import fused_optimizer_kwargs

    d = DataFreeDistillRegressor(
        mlp_teacher, max_queries=3000, round_size=500, device="cpu", random_state=0
    ).fit()
    assert type(d.student_.optimizer_) is torch.optim.Adam
    fused = d.student_.optimizer_.defaults.get("fused")
    assert bool(fused) == bool(fused_optimizer_kwargs("cpu"))
    # Devices without fused kernels keep torch's default implementation.
    assert fused_optimizer_kwargs("meta") == {}


def test_auto_learning_rate_shrinks_with_the_number_of_varying_features():
    def teacher(d):
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(d, 8), nn.Tanh(), nn.Linear(8, 1))

    fast = dict(
        max_queries=3000, round_size=1000, batch_size=256, device="cpu", random_state=0
    )
    narrow = DataFreeDistillRegressor(teacher(8), **fast).fit()
    wide = DataFreeDistillRegressor(teacher(64), **fast).fit()
    assert narrow.learning_rate_ == pytest.approx(1e-2)
    assert wide.learning_rate_ == pytest.approx(1e-2 * 0.5)
    assert wide.student_.optimizer_.param_groups[0]["initial_lr"] == pytest.approx(
        wide.learning_rate_
    )
    # Constant features do not count: 64 features of which 8 vary.
    scale = np.r_[np.ones(8), np.zeros(56)]
    held = DataFreeDistillRegressor(
        teacher(64), domain={"loc": np.zeros(64), "scale": scale}, **fast
    ).fit()
    assert held.learning_rate_ == pytest.approx(1e-2)
    # An explicit value is used as given.
    given = DataFreeDistillRegressor(teacher(64), learning_rate=0.05, **fast).fit()
    assert given.learning_rate_ == 0.05


def test_default_student_warms_up_then_anneals(mlp_teacher):
    fast = dict(
        max_queries=14_000, round_size=500, n_holdout=256, device="cpu", random_state=0
    )
    d = DataFreeDistillRegressor(mlp_teacher, learning_rate_warmup=0.15, **fast).fit()
    lrs = [row["event_lr"] for row in d.history_]
    n_rounds = len(lrs)
    warmup = round(0.15 * n_rounds)
    assert warmup >= 3
    full = d.learning_rate_
    # Round t of the warm-up takes (t + 1) / warmup of the cosine's rate.
    for t in range(warmup):
        cosine = (
            full / 100 + (full - full / 100) * (1 + np.cos(np.pi * t / n_rounds)) / 2
        )
        assert lrs[t] == pytest.approx((t + 1) / warmup * cosine)
    peak = int(np.argmax(lrs))
    assert peak == warmup - 1
    assert np.all(np.diff(lrs[peak:]) < 0)
    assert lrs[-1] < full / 10
    # 0 turns it off: the first round takes the whole learning rate.
    off = DataFreeDistillRegressor(mlp_teacher, learning_rate_warmup=0.0, **fast).fit()
    assert off.history_[0]["event_lr"] == pytest.approx(off.learning_rate_)
    assert not np.allclose(off.predict(np.zeros((4, 8))), d.predict(np.zeros((4, 8))))


def test_auto_learning_rate_grows_as_the_square_root_of_the_batch_size():
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))
    fast = dict(max_queries=3000, round_size=1000, device="cpu", random_state=0)
    default = DataFreeDistillRegressor(teacher, **fast).fit()
    assert default.batch_size == 512
    assert default.learning_rate_ == pytest.approx(1e-2 * 2**0.5)
    large = DataFreeDistillRegressor(teacher, batch_size=1024, **fast).fit()
    assert large.learning_rate_ == pytest.approx(2e-2)
    assert large.student_.optimizer_.param_groups[0]["initial_lr"] == pytest.approx(
        2e-2
    )
    # An explicit learning rate is not rescaled by the batch size.
    given = DataFreeDistillRegressor(
        teacher, batch_size=1024, learning_rate=0.05, **fast
    ).fit()
    assert given.learning_rate_ == 0.05


@pytest.mark.parametrize("verbose", [0, 1])
def test_the_fitted_student_ships_without_teacher_or_queries(tmp_path, verbose):
    import joblib

    X, y = make_friedman1(n_samples=2000, random_state=0)
    forest = RandomForestRegressor(n_estimators=100, random_state=0).fit(X, y)
    d = DataFreeDistillRegressor(
        forest,
        max_queries=12_000,
        round_size=2048,
        checkpoint_dir=tmp_path / "ckpt",
        verbose=verbose,
        random_state=0,
    ).fit()
    teacher_bytes = len(pickle.dumps(forest))
    student_bytes = len(pickle.dumps(d.student_))
    assert student_bytes * 100 < teacher_bytes
    # No teacher, hold-out or query tensors hide in the net's callbacks.
    for _, callback in d.student_.callbacks_:
        for value in vars(callback).values():
            assert not isinstance(value, torch.Tensor) or value.numel() < 100
            assert value is not forest
    joblib.dump(d.student_, tmp_path / "student.joblib")
    assert (tmp_path / "student.joblib").stat().st_size * 100 < teacher_bytes
    # It still predicts as the distiller does, and fine-tunes on real rows.
    X32 = X[:50].astype(np.float32)
    restored = pickle.loads(pickle.dumps(d.student_))
    np.testing.assert_allclose(
        restored.predict(X32).ravel(), d.predict(X32), rtol=1e-5, atol=1e-6
    )
    restored.set_params(train_split=None, max_epochs=1)
    restored.partial_fit(X32, y[:50].astype(np.float32).reshape(-1, 1))


def test_a_poor_student_warns_once_and_keeps_its_holdout_r2(forest, friedman_bounds):
    from skdistill.exceptions import LowFidelityWarning

    poor = DataFreeDistillRegressor(
        forest,
        domain=friedman_bounds,
        hidden_layer_sizes=(1,),
        max_queries=3000,
        round_size=500,
        n_holdout=256,
        random_state=0,
    )
    with pytest.warns(LowFidelityWarning, match="fit\\(X\\)") as record:
        poor.fit()
    assert len([w for w in record if w.category is LowFidelityWarning]) == 1
    assert poor.holdout_r2_ < 0.9
    best = min(poor.history_, key=lambda row: row["holdout_loss"])
    assert poor.holdout_r2_ == best["holdout_r2"]


def test_a_faithful_student_does_not_warn(mlp_teacher):
    from skdistill.exceptions import LowFidelityWarning

    d = DataFreeDistillRegressor(mlp_teacher, random_state=0, **SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LowFidelityWarning)
        d.fit()
    assert d.holdout_r2_ >= 0.9
