"""Tree teachers as tensors: hummingbird conversion, verification and fallback."""

import builtins
import pickle

import numpy as np
import pytest
import torch
from conftest import make_mlp
from sklearn.datasets import make_friedman1
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.linear_model import Ridge
from sklearn.tree import DecisionTreeRegressor

from skdistill import DataFreeDistillRegressor, _hummingbird
from skdistill._teachers import as_teacher

SMALL = dict(
    max_queries=8_000,
    round_size=2048,
    n_holdout=512,
    query_strategy="uniform",
    domain={"low": np.zeros(10), "high": np.ones(10)},  # Friedman #1's inputs
    random_state=0,
)

TREES = [
    DecisionTreeRegressor(max_depth=6, random_state=0),
    RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0),
    ExtraTreesRegressor(n_estimators=10, max_depth=6, random_state=0),
    GradientBoostingRegressor(n_estimators=20, random_state=0),
    HistGradientBoostingRegressor(max_iter=20, random_state=0),
]


@pytest.fixture(scope="module")
def data():
    return make_friedman1(n_samples=400, noise=0.5, random_state=0)


@pytest.fixture
def hummingbird():
    return pytest.importorskip("hummingbird.ml")


@pytest.fixture(autouse=True)
def fresh_auto_decisions():
    # Each test times and decides afresh instead of reusing another's choice.
    _hummingbird._AUTO_DECISIONS.clear()
    yield
    _hummingbird._AUTO_DECISIONS.clear()


@pytest.fixture
def no_hummingbird(monkeypatch):
    """Make ``import hummingbird...`` fail, as when it is not installed."""
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "hummingbird" or name.startswith("hummingbird."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)


def _compile(model, n_features=10, n=512, backend="auto", seed=0):
    """A teacher adapter after compile, its probe and the compile record."""
    teacher = as_teacher(model)
    x = torch.rand(n, n_features, generator=torch.Generator().manual_seed(seed))
    reference = teacher.predict(x)
    record = teacher.compile(x, reference, backend)
    return teacher, x, reference, record


@pytest.mark.parametrize("model", TREES, ids=lambda m: type(m).__name__)
def test_converted_trees_reproduce_predict(hummingbird, data, model):
    X, y = data
    model.fit(X, y)
    teacher, _, _, record = _compile(model, backend="hummingbird")
    assert record["path"] == "hummingbird"
    assert record["mismatch_fraction"] <= 0.01
    assert set(record["rows_per_s"]) == {"predict", "hummingbird"}
    assert all(rate > 0 for rate in record["rows_per_s"].values())

    # Fresh queries (not the probe) go through the converted model, counted,
    # as float32 (n, n_outputs) tensors, and still match predict.
    x = torch.rand(300, 10, generator=torch.Generator().manual_seed(1))
    before = teacher.n_queries
    labels = teacher.predict(x)
    assert teacher.n_queries == before + 300
    assert labels.shape == (300, 1) and labels.dtype == torch.float32
    assert not labels.is_inference() and not labels.requires_grad
    diff = np.abs(labels.numpy().ravel() - model.predict(x.double().numpy()))
    assert np.mean(diff > 1e-4 * np.abs(y).max()) <= 0.01


def test_multi_output_forest_converts_to_2d_labels(hummingbird, data):
    X, y = data
    forest = RandomForestRegressor(n_estimators=5, random_state=0)
    forest.fit(X, np.c_[y, -2 * y])
    teacher, x, reference, record = _compile(forest, backend="hummingbird")
    assert record["path"] == "hummingbird"
    assert teacher.predict(x).shape == reference.shape == (512, 2)


def test_auto_keeps_the_measured_faster_path(hummingbird, data):
    X, y = data
    forest = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y)
    teacher, *_, record = _compile(forest, backend="auto")
    speed = record["rows_per_s"]
    faster = max(speed, key=speed.get)
    assert record["path"] == faster
    assert (teacher.compiled is not None) == (faster == "hummingbird")
    assert "measured" in record["reason"]


@pytest.mark.parametrize("faster", ["predict", "hummingbird"])
def test_auto_follows_the_timing(hummingbird, data, monkeypatch, faster):
    slower = {"predict": "hummingbird", "hummingbird": "predict"}[faster]
    monkeypatch.setattr(
        _hummingbird,
        "_throughputs",
        lambda paths, x: {faster: 2e6, slower: 1e6},
    )
    X, y = data
    forest = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    teacher, *_, record = _compile(forest, backend="auto")
    assert record["path"] == faster
    assert (teacher.compiled is not None) == (faster == "hummingbird")


def test_auto_decision_is_reused_for_the_same_teacher(hummingbird, data, monkeypatch):
    X, y = data
    forest = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    monkeypatch.setattr(
        _hummingbird, "_throughputs", lambda p, x: {"hummingbird": 2.0, "predict": 1.0}
    )
    first = _compile(forest)[3]

    def fail(*args):
        raise AssertionError("timed twice")

    monkeypatch.setattr(_hummingbird, "_throughputs", fail)
    teacher, *_, second = _compile(forest, seed=1)
    assert first["path"] == second["path"] == "hummingbird"
    assert teacher.compiled is not None
    assert "earlier fit" in second["reason"]


def test_disagreeing_conversion_falls_back_to_predict(hummingbird, data, monkeypatch):
    X, y = data
    forest = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    real_call = _hummingbird._CompiledTrees.__call__
    # A converted model that is off by 1% of the output scale.
    monkeypatch.setattr(
        _hummingbird._CompiledTrees,
        "__call__",
        lambda self, x: real_call(self, x) + 0.01 * float(np.abs(y).max()),
    )
    teacher, x, reference, record = _compile(forest, backend="auto")
    assert record["path"] == "predict" and teacher.compiled is None
    assert "disagrees" in record["reason"]
    assert record["max_abs_diff"] == pytest.approx(0.01 * np.abs(y).max(), rel=1e-3)
    torch.testing.assert_close(teacher.predict(x), reference)

    with pytest.raises(ValueError, match="disagrees with its predict"):
        _compile(forest, backend="hummingbird")


@pytest.mark.parametrize("n_wrong, accepted", [(2, True), (12, False)])
def test_a_few_split_ties_are_tolerated(
    hummingbird, data, monkeypatch, n_wrong, accepted
):
    # Inputs within a float32 rounding of a split threshold may take the other
    # branch in one tree: up to 1% of the probe rows may differ, no more.
    X, y = data
    forest = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    real_call = _hummingbird._CompiledTrees.__call__

    def some_rows_off(self, x):
        labels = real_call(self, x)
        labels[:n_wrong] += 0.1
        return labels

    monkeypatch.setattr(_hummingbird._CompiledTrees, "__call__", some_rows_off)
    monkeypatch.setattr(
        _hummingbird, "_throughputs", lambda p, x: {"hummingbird": 2.0, "predict": 1.0}
    )
    teacher, *_, record = _compile(forest, n=512)
    assert record["mismatch_fraction"] == pytest.approx(n_wrong / 512)
    assert (record["path"] == "hummingbird") == accepted
    assert (teacher.compiled is not None) == accepted


def test_silently_wrong_conversion_is_caught(hummingbird, data):
    # hummingbird 0.4.12 drops the exp link of a Poisson HistGradientBoosting:
    # the conversion runs but its labels are wrong, so it must not be used.
    X, y = data
    poisson = HistGradientBoostingRegressor(loss="poisson", max_iter=20).fit(X, y)
    teacher, x, reference, record = _compile(poisson)
    if record["path"] == "hummingbird":  # a later hummingbird fixed it
        assert record["max_abs_diff"] <= 1e-4 * float(reference.abs().max())
    else:
        assert "disagrees" in record["reason"] and teacher.compiled is None


def test_conversion_error_falls_back_to_predict(hummingbird, data, monkeypatch):
    def broken_convert(*args, **kwargs):
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(hummingbird, "convert", broken_convert)
    X, y = data
    forest = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    teacher, *_, record = _compile(forest)
    assert record["path"] == "predict" and teacher.compiled is None
    assert "RuntimeError: unsupported operator" in record["reason"]
    with pytest.raises(ValueError, match="could not convert"):
        _compile(forest, backend="hummingbird")


def test_distiller_records_the_backend_and_counts_queries(hummingbird, data):
    X, y = data
    forest = RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0)
    forest.fit(X, y)
    d = DataFreeDistillRegressor(forest, teacher_backend="hummingbird", **SMALL).fit()
    assert d.teacher_backend_["path"] == "hummingbird"
    assert d.n_teacher_queries_ == SMALL["max_queries"]
    assert np.corrcoef(d.predict(X), forest.predict(X))[0, 1] > 0.8

    # The converted model is a cache: the pickle neither holds nor needs it.
    loaded = pickle.loads(pickle.dumps(d))
    np.testing.assert_array_equal(loaded.predict(X), d.predict(X))


def test_predict_backend_never_converts(data, monkeypatch):
    def no_conversion(*args, **kwargs):
        raise AssertionError("converted")

    try:
        import hummingbird.ml as hb
    except ImportError:
        pass  # nothing could convert anyway
    else:
        monkeypatch.setattr(hb, "convert", no_conversion)
    X, y = data
    forest = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    d = DataFreeDistillRegressor(forest, teacher_backend="predict", **SMALL).fit()
    assert d.teacher_backend_["path"] == "predict"
    assert d.teacher_backend_["max_abs_diff"] is None


def test_hummingbird_backend_without_hummingbird_is_an_import_error(
    data, no_hummingbird
):
    X, y = data
    forest = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    d = DataFreeDistillRegressor(forest, teacher_backend="hummingbird", **SMALL)
    with pytest.raises(ImportError, match=r"pip install 'skdistill\[trees\]'"):
        d.fit()


def test_auto_without_hummingbird_uses_predict(data, no_hummingbird):
    X, y = data
    forest = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    d = DataFreeDistillRegressor(forest, **SMALL).fit()
    assert d.teacher_backend_["path"] == "predict"
    assert "not importable" in d.teacher_backend_["reason"]


@pytest.mark.parametrize(
    "teacher, match",
    [
        (make_mlp(n_features=10), "is a torch model"),
        (Ridge().fit(np.eye(10), np.arange(10)), "the teacher is a Ridge"),
    ],
    ids=["torch", "ridge"],
)
def test_hummingbird_backend_needs_a_tree_ensemble(teacher, match):
    d = DataFreeDistillRegressor(teacher, teacher_backend="hummingbird", **SMALL)
    with pytest.raises(ValueError, match=match):
        d.fit()


def test_auto_leaves_other_teachers_alone():
    ridge = Ridge().fit(np.eye(10), np.arange(10))
    teacher, *_, record = _compile(ridge)
    assert record["path"] == "predict" and teacher.compiled is None
    assert "Ridge is not a tree ensemble" in record["reason"]


def test_invalid_teacher_backend_names_the_options(forest):
    d = DataFreeDistillRegressor(forest, teacher_backend="onnx")
    with pytest.raises(ValueError, match="teacher_backend"):
        d.fit()
