"""``python -m skdistill distill``: safe loading, report, export."""

import io
import subprocess
import sys

import joblib
import numpy as np
import pytest
import torch

from skdistill import load_weights
from skdistill._cli import main

SMALL = ["--budget", "3000", "--report-rows", "200", "--quiet"]


@pytest.fixture(scope="module")
def teacher_files(forest, tmp_path_factory):
    folder = tmp_path_factory.mktemp("teachers")
    joblib.dump(forest, folder / "forest.joblib")
    skops_io = pytest.importorskip("skops.io")
    skops_io.dump(forest, folder / "forest.skops")
    return folder


def _run_module(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "skdistill", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def _run_main(*args):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_module_distills_a_skops_teacher_to_onnx(teacher_files, friedman, tmp_path):
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort
    import skops.io

    untrusted = skops.io.get_untrusted_types(file=teacher_files / "forest.skops")
    out = tmp_path / "student.onnx"
    result = _run_module(
        "distill",
        str(teacher_files / "forest.skops"),
        "--out",
        str(out),
        *SMALL,
        *(["--trusted", *untrusted] if untrusted else []),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Compression report: RandomForestRegressor" in result.stdout
    assert "predict latency" in result.stdout
    assert f"wrote {out}" in result.stdout
    X, _ = friedman
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"X": X[:5].astype(np.float32)})
    assert y.shape == (5,)
    assert np.isfinite(y).all()


def test_module_refuses_a_pickle_without_trust_pickle(teacher_files, tmp_path):
    result = _run_module(
        "distill",
        str(teacher_files / "forest.joblib"),
        "--out",
        str(tmp_path / "s.onnx"),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "--trust-pickle" in result.stderr
    assert "run any code" in result.stderr
    assert not (tmp_path / "s.onnx").exists()


def test_module_loads_a_pickle_with_trust_pickle_and_warns(
    teacher_files, friedman, forest, tmp_path
):
    out = tmp_path / "student.pt"
    result = _run_module(
        "distill",
        str(teacher_files / "forest.joblib"),
        "--trust-pickle",
        "--out",
        str(out),
        *SMALL,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "runs any code the file contains" in result.stderr
    assert "Compression report" in result.stdout
    X, _ = friedman
    student = load_weights(out)
    assert student.predict(X[:5]).shape == (5,)


def test_untrusted_skops_types_are_refused_and_listed(teacher_files, tmp_path):
    import skops.io

    untrusted = skops.io.get_untrusted_types(file=teacher_files / "forest.skops")
    if not untrusted:
        pytest.skip("this skops version trusts every type of a forest")
    status, out, err = _run_main(
        "distill",
        str(teacher_files / "forest.skops"),
        "--out",
        str(tmp_path / "s.onnx"),
    )
    assert status == 2
    assert f"--trusted {' '.join(untrusted)}" in err
    assert out == ""


def test_domain_rows_from_csv_shape_the_fit_and_the_report(
    teacher_files, friedman, tmp_path
):
    X, _ = friedman
    np.savetxt(
        tmp_path / "rows.csv",
        X,
        delimiter=",",
        header=",".join(f"f{i}" for i in range(10)),
        comments="",
    )
    out = tmp_path / "student.ts"
    status, stdout, err = _run_main(
        "distill",
        str(teacher_files / "forest.joblib"),
        "--trust-pickle",
        "--out",
        str(out),
        "--domain-from",
        str(tmp_path / "rows.csv"),
        *SMALL,
    )
    assert status == 0, err
    assert "200 rows" in stdout
    assert "200 of the --domain-from rows" in stdout
    assert "TorchScript" in stdout
    assert out.is_file()


def test_domain_rows_from_npy(teacher_files, friedman, tmp_path):
    X, _ = friedman
    np.save(tmp_path / "rows.npy", X[:100])
    status, stdout, err = _run_main(
        "distill",
        str(teacher_files / "forest.joblib"),
        "--trust-pickle",
        "--out",
        str(tmp_path / "s.pt"),
        "--domain-from",
        str(tmp_path / "rows.npy"),
        *SMALL,
    )
    assert status == 0, err
    assert "100 rows" in stdout


def test_torch_teacher_from_a_trusted_torch_file(tmp_path):
    from conftest import make_mlp

    torch.save(make_mlp(n_features=8), tmp_path / "mlp.pt")
    status, stdout, err = _run_main(
        "distill",
        str(tmp_path / "mlp.pt"),
        "--trust-pickle",
        "--out",
        str(tmp_path / "student.pth"),
        "--hidden-layer-sizes",
        "16",
        "16",
        *SMALL,
    )
    assert status == 0, err
    assert "torch.load runs any code" in err
    assert "Sequential" in stdout
    student = load_weights(tmp_path / "student.pth")
    assert [
        m.out_features for m in student.modules() if hasattr(m, "out_features")
    ] == [
        16,
        16,
        1,
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "s.xyz", "--trust-pickle"], "cannot tell the output format"),
        (["--out", "s.onnx", "--report-rows", "0", "--trust-pickle"], "--report-rows"),
        (
            ["--out", "s.onnx", "--trust-pickle", "--domain-from", "rows.txt"],
            ".npy or .csv",
        ),
    ],
)
def test_usage_errors(teacher_files, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rows.txt").write_text("1,2\n")
    status, out, err = _run_main("distill", str(teacher_files / "forest.joblib"), *args)
    assert status == 2
    assert message in err


def test_missing_teacher_file(tmp_path):
    status, _, err = _run_main(
        "distill", str(tmp_path / "nope.skops"), "--out", "s.onnx"
    )
    assert status == 2
    assert "does not exist" in err


# -- a teacher fitted on a DataFrame with text and category columns ---------------------
@pytest.fixture(scope="module")
def frame_teacher(tmp_path_factory):
    """A category-dtype HistGradientBoosting teacher in a .skops file, and its rows."""
    pd = pytest.importorskip("pandas")
    skops_io = pytest.importorskip("skops.io")
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.default_rng(0)
    n = 600
    X = pd.DataFrame(
        {
            "size": rng.normal(50, 10, n),
            "rooms": rng.integers(1, 6, n),
            "city": pd.Categorical(rng.choice(["Oslo", "Rome", "Lima"], n)),
        }
    )
    y = X["size"] + 4 * X["rooms"] + 15 * (X["city"] == "Rome").to_numpy()
    teacher = HistGradientBoostingRegressor(
        categorical_features="from_dtype", max_iter=30
    ).fit(X, y)
    folder = tmp_path_factory.mktemp("frame_teacher")
    skops_io.dump(teacher, folder / "teacher.skops")
    rows = X.assign(city=X["city"].astype(object))
    rows.loc[::10, "city"] = "Paris"  # a level the teacher never saw
    rows.to_csv(folder / "rows.csv", index=False)
    trusted = skops_io.get_untrusted_types(file=folder / "teacher.skops")
    return teacher, folder, (["--trusted", *trusted] if trusted else [])


def _feed(session, frame):
    """One (n, 1) array per ONNX input, by the graph's input types alone."""
    feed = {}
    for spec in session.get_inputs():
        column = frame[spec.name]
        if spec.type == "tensor(string)":
            values = column.astype(object).where(column.notna(), "").astype(str)
            feed[spec.name] = values.to_numpy(dtype=object).reshape(-1, 1)
        else:
            dtype = {"tensor(int64)": np.int64, "tensor(bool)": bool}.get(
                spec.type, np.float32
            )
            feed[spec.name] = column.to_numpy(dtype=dtype).reshape(-1, 1)
    return feed


@pytest.mark.parametrize("with_rows", [False, True], ids=["no rows", "--domain-from"])
def test_a_dataframe_teacher_distils_to_onnx_with_one_input_per_column(
    frame_teacher, tmp_path, with_rows
):
    ort = pytest.importorskip("onnxruntime")
    import pandas as pd

    teacher, folder, trusted = frame_teacher
    rows = ["--domain-from", str(folder / "rows.csv")] if with_rows else []
    out = tmp_path / "student.onnx"
    status, stdout, err = _run_main(
        "distill",
        str(folder / "teacher.skops"),
        "--out",
        str(out),
        "--budget",
        "30000",
        "--report-rows",
        "200",
        "--quiet",
        *rows,
        *trusted,
    )
    assert status == 0, err
    assert "Compression report: HistGradientBoostingRegressor" in stdout
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["size", "rooms", "city"]
    frame = pd.read_csv(folder / "rows.csv")  # city as str, with unseen "Paris"
    (got,) = session.run(None, _feed(session, frame))
    expected = teacher.predict(frame.assign(city=frame["city"].astype("category")))
    r2 = 1 - np.sum((got - expected) ** 2) / np.sum((expected - expected.mean()) ** 2)
    assert r2 > 0.9


@pytest.mark.parametrize("out", ["student.pt", "student.ts"])
def test_a_dataframe_teacher_is_refused_other_formats_before_distilling(
    frame_teacher, tmp_path, out
):
    _, folder, trusted = frame_teacher
    status, stdout, err = _run_main(
        "distill", str(folder / "teacher.skops"), "--out", str(tmp_path / out), *trusted
    )
    assert status == 2
    assert "Write ONNX instead" in err
    assert "Compression report" not in stdout


def test_a_csv_without_the_teachers_columns_is_a_clear_error(frame_teacher, tmp_path):
    import pandas as pd

    _, folder, trusted = frame_teacher
    pd.read_csv(folder / "rows.csv").drop(columns="city").to_csv(
        tmp_path / "rows.csv", index=False
    )
    status, _, err = _run_main(
        "distill",
        str(folder / "teacher.skops"),
        "--out",
        str(tmp_path / "s.onnx"),
        "--domain-from",
        str(tmp_path / "rows.csv"),
        *trusted,
    )
    assert status == 2
    assert "['city']" in err
