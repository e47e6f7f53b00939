"""ONNX, TorchScript and weights: each predicts exactly like the distiller."""

import json
import warnings

import numpy as np
import pytest
import torch
from conftest import FAST, make_mlp
from skorch import NeuralNetRegressor

from skdistill import (
    DataFreeDistillRegressor,
    DeployedStudent,
    MLPStudent,
    export_onnx,
    export_torchscript,
    load_weights,
    save_weights,
)


@pytest.fixture(scope="module")
def multi_output_distiller():
    return DataFreeDistillRegressor(make_mlp(n_features=8, n_outputs=2), **FAST).fit()


@pytest.fixture(scope="module")
def X_new():
    # Raw inputs in the teacher's units, partly outside the domain's box.
    return np.random.default_rng(1).uniform(-0.2, 1.2, size=(300, 10))


def _onnx_predict(path, X):
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"X": np.asarray(X, dtype=np.float32)})[0]


# -- ONNX -----------------------------------------------------------------
@pytest.mark.parametrize("dynamo", ["auto", False])
def test_onnx_predicts_like_predict_on_raw_inputs(distiller, X_new, tmp_path, dynamo):
    pytest.importorskip("onnxruntime")
    if dynamo == "auto":
        pytest.importorskip("onnxscript")
    path = export_onnx(distiller, tmp_path / "student.onnx", dynamo=dynamo)
    assert path.is_file()
    assert not (tmp_path / "student.onnx.data").exists()  # one self-contained file
    got = _onnx_predict(path, X_new)
    expected = distiller.predict(X_new)
    assert got.shape == expected.shape == (300,)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # any number of rows
    assert _onnx_predict(path, X_new[:1]).shape == (1,)


def test_onnx_multi_output(multi_output_distiller, tmp_path):
    X = np.random.default_rng(0).normal(size=(40, 8))
    path = export_onnx(multi_output_distiller, tmp_path / "multi.onnx")
    got = _onnx_predict(path, X)
    assert got.shape == (40, 2)
    np.testing.assert_allclose(
        got, multi_output_distiller.predict(X), rtol=1e-5, atol=1e-5
    )


def test_onnx_records_feature_names(friedman, tmp_path):
    pd = pytest.importorskip("pandas")
    onnx = pytest.importorskip("onnx")
    from sklearn.tree import DecisionTreeRegressor

    X, y = friedman
    columns = [f"x{i}" for i in range(10)]
    frame = pd.DataFrame(X, columns=columns)
    teacher = DecisionTreeRegressor(max_depth=4, random_state=0).fit(frame, y)
    distiller = DataFreeDistillRegressor(teacher, **FAST).fit(frame)
    path = export_onnx(distiller, tmp_path / "named.onnx", X=frame.iloc[:50])
    metadata = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert json.loads(metadata["feature_names"]) == columns
    assert metadata["producer"].startswith("skdistill")
    np.testing.assert_allclose(
        _onnx_predict(path, X[:20]), distiller.predict(frame.iloc[:20]), rtol=1e-5
    )


def test_onnx_export_is_quiet(distiller, tmp_path, capfd):
    pytest.importorskip("onnxruntime")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        export_onnx(distiller, tmp_path / "quiet.onnx")
    captured = capfd.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_onnx_mismatch_raises(distiller, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    original = distiller.predict
    monkeypatch.setattr(distiller, "predict", lambda X: original(X) + 1.0)
    with pytest.raises(RuntimeError, match="disagrees with predict"):
        export_onnx(distiller, tmp_path / "bad.onnx")


def test_onnx_bad_arguments(distiller, tmp_path):
    pytest.importorskip("onnxruntime")
    with pytest.raises(ValueError, match="dynamo"):
        export_onnx(distiller, tmp_path / "s.onnx", dynamo="yes")
    with pytest.raises(ValueError, match=r"shape \(n, 10\)"):
        export_onnx(distiller, tmp_path / "s.onnx", X=np.zeros((3, 4)))


def test_onnx_without_onnxruntime_says_what_to_install(
    distiller, tmp_path, monkeypatch
):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"skdistill\[onnx\]"):
        export_onnx(distiller, tmp_path / "s.onnx")


# -- TorchScript ----------------------------------------------------------
def test_torchscript_predicts_like_predict(distiller, X_new, tmp_path):
    path = export_torchscript(distiller, tmp_path / "student.ts")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit itself
        module = torch.jit.load(str(path))
    with torch.no_grad():
        got = module(torch.as_tensor(X_new, dtype=torch.float32)).numpy()
        one = module(torch.as_tensor(X_new[:1], dtype=torch.float32))
    np.testing.assert_allclose(got, distiller.predict(X_new), rtol=1e-5, atol=1e-5)
    assert one.shape == (1,)


def test_torchscript_multi_output(multi_output_distiller, tmp_path):
    path = export_torchscript(multi_output_distiller, tmp_path / "multi.ts")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(path))
    X = np.random.default_rng(0).normal(size=(40, 8))
    with torch.no_grad():
        got = module(torch.as_tensor(X, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(
        got, multi_output_distiller.predict(X), rtol=1e-5, atol=1e-5
    )


# -- weights --------------------------------------------------------------
def test_weights_round_trip_with_weights_only(distiller, X_new, tmp_path):
    path = save_weights(distiller, tmp_path / "student.pt")
    payload = torch.load(path, weights_only=True)  # no pickled code in the file
    assert payload["format"] == "skdistill.student"
    student = load_weights(path)
    assert isinstance(student, DeployedStudent)
    assert not student.training
    np.testing.assert_array_equal(student.predict(X_new), distiller.predict(X_new))
    with torch.no_grad():
        out = student(torch.as_tensor(X_new, dtype=torch.float64))
    np.testing.assert_allclose(out.numpy(), distiller.predict(X_new), rtol=1e-6)


def test_weights_of_a_custom_student_need_its_module(forest, friedman_bounds, tmp_path):
    net = NeuralNetRegressor(
        MLPStudent,
        module__n_features=10,
        module__hidden_layer_sizes=(8,),
        module__activation="relu",
    )
    distiller = DataFreeDistillRegressor(
        forest, domain=friedman_bounds, student=net, **FAST
    ).fit()
    path = save_weights(distiller, tmp_path / "custom.pt")
    with pytest.raises(ValueError, match="pass module="):
        load_weights(path)
    with pytest.raises(ValueError, match="does not fit the weights"):
        load_weights(path, module=MLPStudent(10, hidden_layer_sizes=(9,)))
    student = load_weights(
        path, module=MLPStudent(10, hidden_layer_sizes=(8,), activation="relu")
    )
    X = np.random.default_rng(0).uniform(size=(20, 10))
    np.testing.assert_array_equal(student.predict(X), distiller.predict(X))


def test_load_weights_refuses_other_files(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weight": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match="not a student saved by"):
        load_weights(path)


def test_exports_leave_the_fitted_student_alone(distiller, tmp_path):
    module = distiller.student_.module_
    training, device = module.training, next(module.parameters()).device
    export_torchscript(distiller, tmp_path / "s.ts")
    save_weights(distiller, tmp_path / "s.pt")
    assert module is distiller.student_.module_
    assert module.training == training
    assert next(module.parameters()).device == device
    assert all(p.requires_grad for p in module.parameters())


def test_exports_need_a_fitted_distiller(forest, tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(TypeError, match="DataFreeDistillRegressor"):
        save_weights(forest, tmp_path / "s.pt")
    with pytest.raises(NotFittedError):
        export_torchscript(DataFreeDistillRegressor(forest), tmp_path / "s.ts")


# -- a polynomial student ---------------------------------------------------
@pytest.fixture(scope="module")
def polynomial_distiller():
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures

    rng = np.random.default_rng(0)
    X = 50 + 20 * rng.standard_normal((200, 4))
    teacher = make_pipeline(PolynomialFeatures(2), Ridge()).fit(X, X[:, 0] * X[:, 1])
    distiller = DataFreeDistillRegressor(teacher, **FAST).fit()
    assert distiller.student_degree_ == 2
    return distiller, X


def test_onnx_and_weights_of_a_polynomial_student_predict_like_predict(
    polynomial_distiller, tmp_path
):
    distiller, X = polynomial_distiller
    expected = distiller.predict(X)
    student = load_weights(save_weights(distiller, tmp_path / "poly.pt"))
    np.testing.assert_array_equal(student.predict(X), expected)
    pytest.importorskip("onnxruntime")
    got = _onnx_predict(export_onnx(distiller, tmp_path / "poly.onnx"), X)
    np.testing.assert_allclose(got, expected, rtol=1e-4)
