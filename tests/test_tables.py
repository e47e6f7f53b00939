"""DataFrame teachers, end to end: fit() and fit(X_frame), predict on frames."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import fidelity_r2
from sklearn.frozen import FrozenEstimator
from test_columns import TEACHERS, _as_categories

from skdistill import DataFreeDistillRegressor

FAST = dict(max_queries=30_000, round_size=2048, n_holdout=512, random_state=0)


@pytest.fixture(scope="module")
def table():
    """A frame with numbers, integers, flags and text as str, object and category."""
    rng = np.random.default_rng(1)
    n = 1200
    X = pd.DataFrame(
        {
            "x": rng.normal(10, 3, n),
            "n": rng.integers(0, 8, n),
            "flag": rng.random(n) > 0.5,
            "s": pd.Series(rng.choice(["red", "green", "blue"], n), dtype="str"),
            "o": pd.Series(rng.choice(["u", "v", "w"], n), dtype=object),
            "k": pd.Categorical(rng.choice(["lo", "mid", "hi"], n)),
        }
    )
    X.loc[::29, "s"] = np.nan  # missing text where the teacher is fitted with it
    y = (
        X["x"]
        + 0.5 * X["n"]
        + 3 * (X["s"] == "red")
        + 2 * (X["k"] == "hi")
        + X["flag"]
        - (X["o"] == "u")
    ).to_numpy() + rng.normal(0, 0.1, n)
    return X.iloc[:900], X.iloc[900:], y[:900]


@pytest.fixture(scope="module", params=list(TEACHERS))
def teacher(request, table):
    make, categories, _ = TEACHERS[request.param]
    X_train, X_test, y = table
    prepare = _as_categories if categories else (lambda X: X)
    return request.param, make().fit(prepare(X_train), y), prepare


@pytest.mark.parametrize("with_rows", [False, True], ids=["fit()", "fit(X)"])
def test_a_dataframe_teacher_distils_and_predicts_on_frames(teacher, table, with_rows):
    name, model, prepare = teacher
    X_train, X_test = prepare(table[0]), prepare(table[1])
    d = DataFreeDistillRegressor(model, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no domain warning: the columns are known
        d.fit(X_train) if with_rows else d.fit()
    assert d.columns_ is not None
    assert list(d.feature_names_in_) == list(X_train.columns)
    assert d.n_features_in_ == X_train.shape[1]
    fidelity = fidelity_r2(d.predict(X_test), model.predict(X_test))
    assert fidelity > (0.9 if with_rows else 0.75), (name, fidelity)
    # The student ships alone and predicts the same after a pickle round trip.
    restored = pickle.loads(pickle.dumps(d))
    np.testing.assert_allclose(restored.predict(X_test), d.predict(X_test), rtol=1e-6)


def test_queries_reach_the_teacher_as_its_frame(table):
    X_train, _, y = table
    model = TEACHERS["onehot_hgb"][0]().fit(X_train, y)
    seen = []
    frozen = FrozenEstimator(model)  # seen through by the column reader

    def predict(X):
        seen.append(X)
        return model.predict(X)

    frozen.predict = predict
    d = DataFreeDistillRegressor(frozen, **FAST).fit()
    frame = seen[-1]
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(X_train.columns)
    # The thresholds at k + 0.5 say n holds integers (without a frame, not
    # whether it was stored as int or float); the flag stays boolean.
    assert (frame["n"] == np.round(frame["n"])).all() and frame["flag"].dtype == bool
    for column in ("s", "o"):
        levels = set(frame[column].dropna())
        assert levels <= set(X_train[column].dropna())  # never invented strings
    assert frame["x"].notna().all()  # NaN only where the teacher saw it
    assert d.domain_.source.startswith("table schema")


@pytest.fixture(scope="module")
def distilled(table):
    X_train, _, y = table
    model = TEACHERS["onehot_ridge"][0]().fit(X_train, y)
    return model, DataFreeDistillRegressor(model, **FAST).fit(X_train)


def test_predict_reorders_columns_by_name(distilled, table):
    _, d = distilled
    X_test = table[1]
    np.testing.assert_array_equal(
        d.predict(X_test[X_test.columns[::-1]]), d.predict(X_test)
    )


def test_unseen_levels_and_missing_text_predict_finite(distilled, table):
    model, d = distilled
    X = table[1].copy()
    X["o"] = X["o"].where(X.index % 2 == 0, "never seen")
    X.loc[X.index[:5], "s"] = np.nan
    assert np.isfinite(d.predict(X)).all()


@pytest.mark.parametrize(
    "change, error, message",
    [
        (lambda X: X.drop(columns="o"), ValueError, "'o'"),
        (lambda X: X.assign(extra=1.0), ValueError, "extra"),
        (lambda X: X.assign(x="a lot"), ValueError, "'x'"),
        (lambda X: X.to_numpy(), TypeError, "DataFrame"),
    ],
    ids=["missing column", "extra column", "text in a numeric column", "an array"],
)
def test_bad_frames_are_clear_errors(distilled, table, change, error, message):
    _, d = distilled
    with pytest.raises(error, match=message):
        d.predict(change(table[1]))


def test_an_explicit_domain_is_refused_for_a_dataframe_teacher(distilled):
    model, _ = distilled
    with pytest.raises(ValueError, match="fit\\(X\\)"):
        DataFreeDistillRegressor(model, domain={"low": 0, "high": 1}, **FAST).fit()


# -- deployment: ONNX with one input per column, reports and plots on frames ----------
def _awkward(X):
    """Test rows with unseen levels and missing values, text as read from a CSV."""
    X = X.copy()
    X["o"] = X["o"].astype(object)
    X.loc[X.index[::7], "o"] = "never seen"
    X["s"] = X["s"].astype(object)
    X.loc[X.index[::5], "s"] = np.nan  # the teacher saw missing s
    X.loc[X.index[1::9], "s"] = "purple"
    X["s"] = X["s"].astype("str")
    X.loc[X.index[::11], "x"] = np.nan  # the teacher saw none: coded, with a warning
    return X


@pytest.fixture(scope="module", params=["onehot_hgb", "hgb_from_dtype"])
def deployed(request, table):
    """(fitted teacher, distiller) of a OneHot pipeline and a category-dtype HGB."""
    make, categories, _ = TEACHERS[request.param]
    X_train, _, y = table
    X_train = _as_categories(X_train) if categories else X_train
    model = make().fit(X_train, y)
    return model, DataFreeDistillRegressor(model, **FAST).fit(X_train)


def _onnx_session(path):
    ort = pytest.importorskip("onnxruntime")
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.filterwarnings("ignore:Column 'x' has:UserWarning")
def test_onnx_takes_one_input_per_column_and_predicts_like_predict(
    deployed, table, tmp_path
):
    pytest.importorskip("onnx")
    from skdistill import export_onnx

    _, d = deployed
    path = export_onnx(d, tmp_path / "student.onnx")
    session = _onnx_session(path)
    assert [i.name for i in session.get_inputs()] == list(d.columns_.names)
    assert [o.name for o in session.get_outputs()] == ["y"]
    X = _awkward(table[1])
    X = X[X.columns[::-1]]  # any column order: the inputs are by name
    (got,) = session.run(None, d.columns_.onnx_inputs(X))
    expected = d.predict(X)
    assert got.shape == expected.shape == (len(X),)
    assert fidelity_r2(got, expected) >= 0.999
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.filterwarnings("ignore:Column 'x' has:UserWarning")
def test_onnx_export_checks_on_the_rows_given(deployed, table, tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    from skdistill import _export, export_onnx

    _, d = deployed
    checked = []
    verify = _export._verify
    monkeypatch.setattr(
        _export, "_verify", lambda *a: checked.append(a[3]) or verify(*a)
    )
    export_onnx(d, tmp_path / "student.onnx", X=_awkward(table[1]))
    assert isinstance(checked[0], pd.DataFrame) and len(checked[0]) == len(table[1])


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_torchscript_and_deployed_student_take_code_space(distilled, table, tmp_path):
    import torch

    from skdistill import export_torchscript

    _, d = distilled
    path = export_torchscript(d, tmp_path / "student.ts", X=table[1])
    codes = d.columns_.encode(table[1])
    got = torch.jit.load(str(path))(torch.from_numpy(codes)).numpy()
    np.testing.assert_allclose(got, d.predict(table[1]), rtol=1e-5, atol=1e-5)


def test_save_weights_refuses_a_dataframe_student_and_says_what_to_use(
    distilled, tmp_path
):
    from skdistill import save_weights

    _, d = distilled
    with pytest.raises(ValueError, match="export_onnx"):
        save_weights(d, tmp_path / "student.pt")
    assert not (tmp_path / "student.pt").exists()


@pytest.mark.filterwarnings("ignore:Column 'x' has:UserWarning")
def test_compression_report_and_fidelity_take_frames(deployed, table):
    from skdistill import compression_report, fidelity_score

    model, d = deployed
    X = _awkward(table[1])  # text as str, also for the category teacher
    report = compression_report(d, X, n_repeats=1)
    expected = fidelity_r2(d.predict(X), model.predict(d.columns_.teacher_frame(X)))
    assert report.n_rows == len(X)
    assert report.r2 == pytest.approx(expected, abs=1e-9)
    assert report.r2 > 0.8
    assert fidelity_score(d, X) == pytest.approx(report.r2, abs=1e-12)


def test_teacher_student_display_takes_frames(distilled, table):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skdistill import TeacherStudentDisplay

    model, d = distilled
    X = table[1]
    display = TeacherStudentDisplay.from_estimator(d, X, subsample=None)
    offsets = display.scatter_.get_offsets()
    np.testing.assert_allclose(offsets[:, 0], model.predict(X), rtol=1e-5)
    np.testing.assert_allclose(offsets[:, 1], d.predict(X), rtol=1e-5)
    plt.close(display.figure_)


def test_teacher_frame_casts_text_to_the_teachers_categories(table):
    X_train, X_test, y = table
    model = TEACHERS["hgb_from_dtype"][0]().fit(_as_categories(X_train), y)
    d = DataFreeDistillRegressor(model, **FAST).fit(X_train)  # text as str
    frame = d.columns_.teacher_frame(
        X_test.assign(o="never seen")[X_test.columns[::-1]]
    )
    assert list(frame.columns) == list(X_train.columns)
    assert frame["s"].dtype == "category"
    assert set(frame["s"].cat.categories) == {"red", "green", "blue"}
    assert frame["o"].isna().all()  # outside the teacher's categories
