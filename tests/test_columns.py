"""DataFrame teachers: their columns read off the fitted teacher, as a code space."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from torch import nn

from skdistill._columns import CodeExpansion, TableSchema

lgb = pytest.importorskip("lightgbm")

TEXT = ["s", "o", "k", "flag"]
NUMBERS = ["x", "n"]


@pytest.fixture(scope="module")
def frame():
    """Numbers (NaN in x), integers, booleans, text as str (NaN) and object, category."""
    rng = np.random.default_rng(0)
    n = 240
    X = pd.DataFrame(
        {
            # float32-exact: the code space is float32, and HistGradientBoosting
            # splits exactly at training values.
            "x": rng.normal(10, 3, n).astype(np.float32).astype(np.float64),
            "n": rng.integers(0, 8, n),
            "flag": rng.random(n) > 0.5,
            "s": pd.Series(rng.choice(["red", "green", "blue"], n), dtype="str"),
            "o": pd.Series(rng.choice(["u", "v", "w"], n), dtype=object),
            "k": pd.Categorical(
                rng.choice(["lo", "mid", "hi"], n), categories=["lo", "mid", "hi"]
            ),
        }
    )
    X.loc[::17, "x"] = np.nan
    X.loc[::13, "s"] = np.nan
    y = (
        np.nan_to_num(X["x"].to_numpy())
        + X["n"]
        + 3 * (X["s"] == "red")
        + 2 * (X["k"] == "hi")
        + X["flag"]
        - (X["o"] == "u")
    ).to_numpy()
    return X, y


def _as_categories(X):
    return X.assign(s=X["s"].astype("category"), o=X["o"].astype("category"))


def _one_hot_hgb():
    encode = ColumnTransformer(
        [
            ("text", OneHotEncoder(handle_unknown="ignore"), TEXT),
            ("numbers", "passthrough", NUMBERS),
        ]
    )
    return make_pipeline(encode, HistGradientBoostingRegressor(max_iter=20))


def _one_hot_ridge():
    encode = ColumnTransformer(
        [
            ("text", OneHotEncoder(handle_unknown="ignore"), TEXT),
            ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), NUMBERS),
        ]
    )
    return make_pipeline(encode, RidgeCV())


def _ordinal_forest():
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    encode = ColumnTransformer(
        [("text", encoder, TEXT), ("numbers", "passthrough", NUMBERS)]
    )
    return make_pipeline(
        encode, RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0)
    )


# name: (make the teacher, fit on category columns, where the levels come from)
TEACHERS = {
    "onehot_hgb": (_one_hot_hgb, False, "OneHotEncoder.categories_"),
    "onehot_ridge": (_one_hot_ridge, False, "OneHotEncoder.categories_"),
    "ordinal_forest": (_ordinal_forest, False, "OrdinalEncoder.categories_"),
    "hgb_from_dtype": (
        lambda: HistGradientBoostingRegressor(
            categorical_features="from_dtype", max_iter=20
        ),
        True,
        "HistGradientBoostingRegressor categories",
    ),
    "lightgbm": (
        lambda: lgb.LGBMRegressor(n_estimators=20, verbose=-1),
        True,
        "LGBMRegressor pandas_categorical",
    ),
}


@pytest.fixture(scope="module", params=list(TEACHERS))
def fitted(request, frame):
    """(name, fitted teacher, the frame it was fitted on)."""
    make, categories, _ = TEACHERS[request.param]
    X, y = frame
    X = _as_categories(X) if categories else X
    return request.param, make().fit(X, y), X


def _sample(schema, n=2000, **kwargs):
    codes = schema.domain(**kwargs).sample(n, torch.Generator().manual_seed(0))
    return schema.canonical(codes)


# -- reading the teacher ----------------------------------------------------------
def test_from_teacher_finds_each_columns_kind_and_levels(fitted):
    name, teacher, X = fitted
    schema = TableSchema.from_teacher(teacher, X)
    assert schema.names == list(X.columns)
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds == {
        "x": "number",
        "n": "integer",
        "flag": "bool",
        "s": "category",
        "o": "category",
        "k": "category",
    }
    s = schema["s"]
    assert set(s.known_levels) == {"red", "green", "blue"}
    assert s.missing and pd.isna(s.levels[-1])
    assert s.origin == TEACHERS[name][2]
    assert set(schema["o"].levels) == {"u", "v", "w"}
    assert set(schema["k"].levels) == {"lo", "mid", "hi"}
    assert schema["x"].missing and not schema["k"].missing
    # One code per column, then the indicator of x (n gets one only where an
    # imputer says the teacher handles missing values there).
    assert schema.code_names[:6] == list(X.columns)
    assert "missingindicator_x" in schema.code_names


def test_from_teacher_reads_the_levels_without_a_frame(fitted):
    name, teacher, X = fitted
    schema = TableSchema.from_teacher(teacher)
    origin = TEACHERS[name][2]
    for column in ("s", "o", "k"):
        assert schema[column].kind == "category"
        assert schema[column].origin == origin
    assert set(schema["s"].known_levels) == {"red", "green", "blue"}
    # LightGBM keeps no record of missing categories; the others list NaN.
    assert schema["s"].missing == (name != "lightgbm")


def test_scaler_and_imputer_give_numeric_range_and_fill_value(frame):
    X, y = frame
    teacher = _one_hot_ridge().fit(X, y)
    x = TableSchema.from_teacher(teacher)["x"]
    assert x.origin == "StandardScaler.mean_/scale_"
    assert x.loc == pytest.approx(X["x"].mean(), rel=1e-3)
    # The scaler saw x after imputation.
    imputed = X["x"].fillna(X["x"].mean())
    assert x.scale == pytest.approx(imputed.std(ddof=0), rel=1e-3)
    # Missing x is coded as the teacher's own imputer's value.
    assert x.missing and x.fill_value == pytest.approx(X["x"].mean())


def test_hgb_numeric_ranges_follow_its_column_order(frame):
    """Its bin thresholds come categorical features first, not in column order."""
    X, y = frame
    X = _as_categories(X)
    teacher = HistGradientBoostingRegressor(categorical_features="from_dtype")
    schema = TableSchema.from_teacher(teacher.fit(X, y))
    x, n = schema["x"], schema["n"]
    assert x.origin.startswith("HistGradientBoostingRegressor bin thresholds")
    assert X["x"].min() - 1 < x.low < x.high < X["x"].max() + 1
    assert n.integer and n.low >= -1 and n.high <= 8


def test_hgb_leaf_boxes_follow_its_column_order():
    """Its trees, too, see the categorical features first: the boxes go back."""
    rng = np.random.default_rng(0)
    n = 1000
    X = pd.DataFrame(
        {
            "a": rng.uniform(0, 1, n),
            "c": pd.Categorical(rng.choice(list("xyz"), n)),
            "b": rng.uniform(100, 200, n),
        }
    )
    y = 10 * X["a"] + X["b"] / 10 + (X["c"] == "x")
    teacher = HistGradientBoostingRegressor(categorical_features="from_dtype")
    low, high, _ = TableSchema.from_teacher(teacher.fit(X, y)).boxes
    for j, column in ((0, "a"), (2, "b")):
        bounds = np.concatenate([low[:, j], high[:, j]])
        inner = bounds[np.isfinite(bounds)]
        assert (
            inner.size and X[column].min() < inner.min() < inner.max() < X[column].max()
        )
    assert np.isinf(low[:, 1]).all() and np.isinf(high[:, 1]).all()


def test_numeric_teachers_keep_the_plain_path(frame):
    X, y = frame
    rng = np.random.default_rng(0)
    assert (
        TableSchema.from_teacher(
            LinearRegression().fit(rng.random((20, 3)), rng.random(20))
        )
        is None
    )
    numeric = X[["x", "n", "flag"]].fillna(0.0)
    teacher = LinearRegression().fit(numeric, y)
    assert TableSchema.from_teacher(teacher) is None
    assert TableSchema.from_teacher(teacher, numeric) is None
    # Missing numbers in the frame need the code space (an indicator).
    teacher = HistGradientBoostingRegressor(max_iter=5).fit(X[["x", "n"]], y)
    schema = TableSchema.from_teacher(teacher, X[["x", "n"]])
    assert schema.code_names == ["x", "n", "missingindicator_x"]


def test_text_categories_without_column_names_raise(frame):
    X, y = frame
    teacher = make_pipeline(OneHotEncoder(), LinearRegression())
    teacher.fit(X[["o"]].to_numpy(), y)
    with pytest.raises(ValueError, match="fitted on an array"):
        TableSchema.from_teacher(teacher)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda X: X.assign(s=np.arange(len(X), dtype=float)), "'s' of X holds number"),
        (lambda X: X.drop(columns="o"), r"missing \['o'\]"),
    ],
)
def test_frame_disagreeing_with_the_teacher_raises(frame, change, message):
    X, y = frame
    teacher = _one_hot_ridge().fit(X, y)
    with pytest.raises(ValueError, match=message):
        TableSchema.from_teacher(teacher, change(X))


# -- to_frame: what the teacher gets ------------------------------------------------
def test_to_frame_round_trips_and_the_teacher_accepts_it(fitted):
    _, teacher, X = fitted
    schema = TableSchema.from_teacher(teacher, X)
    back = schema.to_frame(schema.encode(X))
    # (n is float64 where an imputer says the teacher takes missing integers.)
    pd.testing.assert_frame_equal(back, X.astype({"n": schema["n"].dtype}))
    np.testing.assert_array_equal(teacher.predict(back), teacher.predict(X))


def test_queries_are_valid_rows_of_the_teachers_frame(fitted):
    _, teacher, X = fitted
    schema = TableSchema.from_teacher(teacher, X)
    queries = schema.to_frame(_sample(schema))
    dtypes = dict(X.dtypes)
    if schema["n"].missing:  # an imputer takes missing integers: float64
        dtypes["n"] = np.dtype(np.float64)
    assert dict(queries.dtypes) == dtypes
    assert np.isfinite(teacher.predict(queries)).all()
    # Every level is queried, missing values where the teacher saw them only.
    assert set(queries["s"].dropna()) == {"red", "green", "blue"}
    assert set(queries["k"]) == {"lo", "mid", "hi"}
    for column in schema.columns:
        assert queries[column.name].isna().any() == column.missing, column.name
    n = queries["n"].dropna()
    assert (n == n.round()).all()


def test_queries_without_a_frame_are_accepted(fitted):
    name, teacher, _ = fitted
    schema = TableSchema.from_teacher(teacher)
    queries = schema.to_frame(_sample(schema, n=500))
    assert np.isfinite(teacher.predict(queries)).all()
    text = "category" if name in ("hgb_from_dtype", "lightgbm") else "str"
    assert str(queries["s"].dtype) == text


def test_lightgbm_gets_its_own_categories(frame):
    X, y = frame
    X = _as_categories(X)
    teacher = lgb.LGBMRegressor(n_estimators=5, verbose=-1).fit(X, y)
    queries = TableSchema.from_teacher(teacher).to_frame(np.zeros((3, 6)))
    assert list(queries["k"].cat.categories) == ["lo", "mid", "hi"]


def test_code_outside_the_levels_raises(fitted):
    _, teacher, X = fitted
    schema = TableSchema.from_teacher(teacher, X)
    codes = schema.encode(X.head(2))
    codes[0, schema.names.index("k")] = 7
    with pytest.raises(ValueError, match="'k' has codes outside 0..2"):
        schema.to_frame(codes)


# -- encode: what the student gets ---------------------------------------------------
@pytest.fixture(scope="module")
def schema(frame):
    X, y = frame
    return TableSchema.from_teacher(_one_hot_hgb().fit(X, y), X)


@pytest.mark.parametrize(
    "change, error, message",
    [
        (lambda X: X.drop(columns="o"), ValueError, r"missing column\(s\) \['o'\]"),
        (lambda X: X.assign(z=1.0), ValueError, r"not fitted on \['z'\]"),
        (
            lambda X: X.assign(s=np.ones(len(X))),
            ValueError,
            "Column 's' holds number values",
        ),
        (
            lambda X: X.assign(x=X["x"].astype(str)),
            ValueError,
            "Column 'x' holds text",
        ),
        (
            lambda X: X.assign(n=X["n"].astype(object).where(X.index != 3, "seven")),
            ValueError,
            "Column 'n' holds text .*'seven'",
        ),
        (lambda X: X.to_numpy(), TypeError, "must be a pandas DataFrame"),
    ],
    ids=[
        "missing",
        "extra",
        "text_as_numbers",
        "numbers_as_text",
        "text_in_numbers",
        "array",
    ],
)
def test_encode_names_the_column_at_fault(schema, frame, change, error, message):
    X, _ = frame
    with pytest.raises(error, match=message):
        schema.encode(change(X))


def test_encode_reorders_columns_by_name(schema, frame):
    X, _ = frame
    shuffled = X[list(reversed(X.columns))]
    np.testing.assert_array_equal(schema.encode(shuffled), schema.encode(X))


@pytest.mark.parametrize("dtype", ["str", "object", "category"])
def test_text_codes_the_same_in_any_text_dtype(schema, frame, dtype):
    X, _ = frame
    np.testing.assert_array_equal(
        schema.encode(X.assign(s=X["s"].astype(dtype), o=X["o"].astype(dtype))),
        schema.encode(X),
    )


def test_unseen_level_codes_as_nan_and_expands_to_zeros(schema, frame):
    X, _ = frame
    X = X.head(4).copy()
    X["s"] = pd.Series(["purple", "red", "red", "red"], dtype="str")
    X["k"] = X["k"].cat.add_categories("top")
    X.loc[1, "k"] = "top"
    codes = schema.encode(X)
    s, k = schema.names.index("s"), schema.names.index("k")
    assert np.isnan(codes[0, s]) and np.isnan(codes[1, k])
    assert not np.isnan(np.delete(codes, [s, k], axis=1)).any()
    out = schema.expansion()(torch.from_numpy(codes)).numpy()
    names = schema.expansion().output_names
    s_block = [i for i, name in enumerate(names) if name.startswith("s_")]
    k_block = [i for i, name in enumerate(names) if name.startswith("k_")]
    np.testing.assert_array_equal(out[0, s_block], 0)
    np.testing.assert_array_equal(out[1, k_block], 0)
    np.testing.assert_array_equal(out[1:, s_block].sum(axis=1), 1)
    np.testing.assert_array_equal(out[0, k_block].sum(), 1)


def test_missing_number_sets_its_indicator_and_the_fill_value(schema, frame):
    X, _ = frame
    codes = schema.encode(X)
    x = schema["x"]
    flag = codes[:, schema.code_names.index("missingindicator_x")]
    np.testing.assert_array_equal(flag, X["x"].isna())
    np.testing.assert_array_equal(codes[flag == 1, 0], np.float32(x.fill_value))
    assert x.fill_value == pytest.approx(X["x"].median())
    # Queries hold any number beside a set indicator; canonical codes match encode.
    queries = _sample(schema, n=500).numpy()
    flagged = queries[:, schema.code_names.index("missingindicator_x")] == 1
    assert flagged.any()
    np.testing.assert_array_equal(queries[flagged, 0], np.float32(x.fill_value))


def test_missing_where_the_teacher_saw_none_warns(schema, frame):
    X, _ = frame
    with pytest.warns(UserWarning, match="'n' has 1 missing value"):
        codes = schema.encode(X.head(3).assign(n=[1.0, np.nan, 2.0]))
    assert codes[1, 1] == schema["n"].fill_value
    # A missing level the teacher never saw is an unseen level: no warning.
    o = X.head(3).assign(o=pd.Series(["u", None, "v"], dtype=object))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(schema.encode(o)[1, schema.names.index("o")])


# -- the student's input ------------------------------------------------------------
def test_code_expansion_one_hot_encodes_codes_and_passes_numbers():
    expansion = CodeExpansion([0, 3, 2])
    assert expansion.n_outputs == 6
    x = torch.tensor([[1.5, 2.0, 0.0], [-4.0, float("nan"), 1.0]])
    expected = torch.tensor([[1.5, 0, 0, 1, 1, 0], [-4.0, 0, 0, 0, 0, 1]])
    torch.testing.assert_close(expansion(x), expected)
    loc, scale = expansion.output_standardization([5.0, 1.0, 0.5], [2.0, 1.0, 0.5])
    np.testing.assert_array_equal(loc, [5, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(scale, [2, 1, 1, 1, 1, 1])


def _export_student(module, n_codes, path, exporter="legacy"):
    """The student exported as skdistill's export_onnx does (opset 18)."""
    from skdistill._export import _onnx_dynamo, _onnx_legacy, _quiet_torch

    export = _onnx_dynamo if exporter == "dynamo" else _onnx_legacy
    with _quiet_torch():
        export(module, torch.zeros(2, n_codes), path, 18)


def _student(schema):
    expansion = schema.expansion()
    torch.manual_seed(0)
    return nn.Sequential(expansion, nn.Linear(expansion.n_outputs, 1)).eval()


@pytest.mark.parametrize("exporter", ["legacy", "dynamo"])
def test_code_expansion_exports_to_onnx(schema, frame, tmp_path, exporter):
    ort = pytest.importorskip("onnxruntime")
    if exporter == "dynamo":
        pytest.importorskip("onnxscript")
    X, _ = frame
    codes = schema.encode(X)
    codes[0, schema.names.index("s")] = np.nan  # an unseen level
    expansion = schema.expansion().eval()
    _export_student(expansion, schema.n_codes, tmp_path / "expansion.onnx", exporter)
    session = ort.InferenceSession(str(tmp_path / "expansion.onnx"))
    (got,) = session.run(None, {"X": codes})
    np.testing.assert_array_equal(got, expansion(torch.from_numpy(codes)).numpy())


# -- ONNX: one input per column --------------------------------------------------------
def _awkward(X):
    """Rows with unseen levels and missing values in every kind of column."""
    X = X.head(40).copy()
    X["s"] = X["s"].astype(object)
    X.loc[[0, 1], "s"] = ["purple", np.nan]
    X["o"] = X["o"].astype(object)
    X.loc[2, "o"] = "zz"
    if X["k"].dtype == "category":
        X["k"] = X["k"].cat.add_categories(["top"])
    X.loc[3, "k"] = "top"
    X.loc[[4, 5], "x"] = np.nan
    X["s"] = X["s"].astype("str")
    return X


def test_onnx_encoder_equals_encode(fitted):
    ort = pytest.importorskip("onnxruntime")
    _, teacher, X = fitted
    schema = TableSchema.from_teacher(teacher, X)
    rows = _awkward(X)
    if X["s"].dtype == "category":
        rows["s"] = rows["s"].astype("category")
    expected = schema.encode(rows)
    assert np.isnan(expected).any()  # unseen levels are in there
    session = ort.InferenceSession(schema.to_onnx().SerializeToString())
    (got,) = session.run(None, schema.onnx_inputs(rows))
    np.testing.assert_array_equal(got, expected)


def test_onnx_encoder_composes_with_the_student(schema, frame, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    X, _ = frame
    student = _student(schema)
    _export_student(student, schema.n_codes, tmp_path / "student.onnx")
    model = schema.compose_with(onnx.load(tmp_path / "student.onnx"))
    assert [i.name for i in model.graph.input] == schema.names
    assert [o.name for o in model.graph.output] == ["y"]
    rows = _awkward(X)
    session = ort.InferenceSession(model.SerializeToString())
    (got,) = session.run(["y"], schema.onnx_inputs(rows))
    with torch.no_grad():
        expected = student(torch.from_numpy(schema.encode(rows))).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
