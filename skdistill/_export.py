"""Ship the student: ONNX, TorchScript, and weights that load without pickle.

Every format holds the same computation as
:meth:`DataFreeDistillRegressor.predict`: raw inputs in the teacher's units,
the student's standardisation (``StandardizedModule``) inside the graph,
outputs in the teacher's units and shaped like the teacher's (``(n,)`` for a
single-output teacher). Only the student is exported; the teacher never is.

For a teacher fitted on a DataFrame with text or category columns
(``distiller.columns_``), the student's network works on the code space
(:class:`~skdistill._columns.TableSchema`): ONNX puts the column encoding in
front of it (one input per column); TorchScript and :class:`DeployedStudent`
take code-space rows (``distiller.columns_.encode(frame)``); weights alone
would lose the encoding, so :func:`save_weights` refuses such a student.
"""

import copy
import importlib.util
import inspect
import json
import logging
import os
import pathlib
import warnings
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from ._estimator import _check_fitted_distiller
from ._student import MLPStudent, StandardizedModule

__all__ = [
    "DeployedStudent",
    "export_onnx",
    "export_torchscript",
    "load_weights",
    "save_weights",
]

_WEIGHTS_FORMAT = "skdistill.student"
_WEIGHTS_VERSION = 1
_N_CHECK_ROWS = 256


class DeployedStudent(nn.Module):
    """The distilled student on its own: raw inputs in, the teacher's units out.

    ``forward(x)`` takes a float tensor of shape ``(n, n_features)`` and
    returns ``(n,)`` for a single-output teacher, else ``(n, n_outputs)``,
    exactly as :meth:`DataFreeDistillRegressor.predict` does. This is the
    module that :func:`export_onnx` and :func:`export_torchscript` export and
    that :func:`load_weights` returns.

    For a teacher fitted on a DataFrame with text or category columns
    (``distiller.columns_``), the inputs are rows of its code space,
    ``(n, columns_.n_codes)``: pass ``distiller.columns_.encode(frame)``,
    not the frame (``feature_names`` are then ``columns_.code_names``).

    Parameters
    ----------
    module : StandardizedModule
        The student's module (``distiller.student_.module_``).
    output_1d : bool
        Whether the teacher returns one-dimensional predictions.
    feature_names : list of str, default=None
        The names of the input features, for the record.
    """

    def __init__(self, module, output_1d, feature_names=None):
        super().__init__()
        self.module = module
        self.output_1d = bool(output_1d)
        self.feature_names = (
            None if feature_names is None else [str(n) for n in feature_names]
        )

    def forward(self, x):
        y = self.module(x.to(torch.float32))
        return y.reshape(-1) if self.output_1d else y

    def predict(self, X):
        """Predict from numpy rows, like :meth:`DataFreeDistillRegressor.predict`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Raw inputs, as the teacher takes them (code-space rows for a
            student of a DataFrame teacher: see the class description).

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            float64 predictions in the teacher's units.
        """
        x = torch.as_tensor(np.asarray(X, dtype=np.float32))
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                return self(x).numpy().astype(np.float64)
        finally:
            self.train(was_training)


def _deployed(distiller, caller):
    """A CPU, eval-mode copy of the fitted student that predicts like ``predict``."""
    _check_fitted_distiller(distiller, caller)
    module = copy.deepcopy(distiller.student_.module_).cpu().eval()
    module.requires_grad_(False)
    columns = getattr(distiller, "columns_", None)
    if columns is not None:
        names = columns.code_names
    else:
        names = getattr(distiller, "feature_names_in_", None)
    return DeployedStudent(module, distiller._teacher_output_1d, names).eval()


def _check_rows(distiller, X):
    """Rows to verify an export on: ``(codes, rows)``.

    ``codes``: float32 inputs of the student's module; ``rows``: the same
    rows as :meth:`DataFreeDistillRegressor.predict` takes them (a frame for
    a DataFrame teacher). From ``X``, else drawn from ``domain_``.
    """
    columns = getattr(distiller, "columns_", None)
    if columns is not None:
        if X is None:
            generator = torch.Generator().manual_seed(0)
            codes = distiller.domain_.sample(_N_CHECK_ROWS, generator, "cpu")
            X = columns.to_frame(columns.canonical(codes))
        return columns.encode(X), X
    if X is None:
        generator = torch.Generator().manual_seed(0)
        X = distiller.domain_.sample(_N_CHECK_ROWS, generator, "cpu").numpy()
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != distiller.n_features_in_:
        raise ValueError(
            f"X must have shape (n, {distiller.n_features_in_}); got {X.shape}."
        )
    names = getattr(distiller, "feature_names_in_", None)
    if names is None:
        return X, X
    import pandas as pd  # a distiller fitted with feature names implies pandas

    return X, pd.DataFrame(X.astype(np.float64), columns=names)


def _verify(name, got, distiller, rows, tolerance):
    """Raise if an exported model disagrees with ``distiller.predict`` on ``rows``."""
    expected = distiller.predict(rows)
    n_rows = len(rows)
    got = np.asarray(got, dtype=np.float64)
    if got.shape != expected.shape:
        raise RuntimeError(
            f"The {name} export returns shape {got.shape} on {n_rows} rows; "
            f"predict returns {expected.shape}."
        )
    max_diff = float(np.max(np.abs(got - expected), initial=0.0))
    allowed = tolerance * max(float(np.max(np.abs(expected), initial=0.0)), 1e-12)
    if not max_diff <= allowed:  # also catches NaN
        raise RuntimeError(
            f"The {name} export disagrees with predict on {n_rows} check rows: "
            f"max abs difference {max_diff:.3g} > {allowed:.3g} (tolerance="
            f"{tolerance} times the largest prediction). The student's module may "
            "do something the exporter does not capture."
        )


@contextmanager
def _quiet_torch():
    """Hide torch's notices about its own internals (deprecations, registry logs).

    They concern torch's code paths, not the caller's, who cannot act on them.
    """
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        logger.setLevel(level)


def _export_parameters():
    return inspect.signature(torch.onnx.export).parameters


def _onnx_dynamo(module, example, path, opset_version):
    kwargs = {}
    if "external_data" in _export_parameters():
        kwargs["external_data"] = False  # one self-contained file
    torch.onnx.export(
        module,
        (example,),
        path,
        input_names=["X"],
        output_names=["y"],
        opset_version=opset_version,
        dynamic_shapes=({0: torch.export.Dim("batch")},),
        dynamo=True,
        verbose=False,
        **kwargs,
    )


def _onnx_legacy(module, example, path, opset_version):
    kwargs = {"dynamo": False} if "dynamo" in _export_parameters() else {}
    torch.onnx.export(
        module,
        (example,),
        path,
        input_names=["X"],
        output_names=["y"],
        opset_version=opset_version or 17,
        dynamic_axes={"X": {0: "batch"}, "y": {0: "batch"}},
        **kwargs,
    )


def _add_onnx_metadata(path, deployed, columns=None):
    try:
        import onnx
    except ImportError:  # the legacy exporter works without it
        return
    from . import __version__

    model = onnx.load(path)
    if columns is None:
        metadata = {
            "feature_names": json.dumps(deployed.feature_names),
            "input": "X: float32 (n_rows, n_features), raw inputs in the teacher's "
            "units",
        }
    else:
        metadata = {
            "feature_names": json.dumps(columns.names),
            "input": "one input per column, named as the column, shape (n_rows, 1): "
            "string for text and category levels (missing as ''), int64, bool or "
            "float32 (NaN for missing) for the others; see the graph's input "
            "types. skdistill makes them with distiller.columns_.onnx_inputs(frame)",
        }
    metadata = {"producer": f"skdistill {__version__}", **metadata}
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, path)


def _compose_onnx(path, columns):
    """Put ``columns``' encoder (one input per column) in front of the file's graph."""
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(
            "Exporting the student of a DataFrame teacher builds its column encoder "
            "with onnx, which is not installed: python -m pip install "
            "'skdistill[onnx]'"
        ) from exc
    model = columns.compose_with(onnx.load(path), input_name="X")
    onnx.save(model, path)


def export_onnx(
    distiller, path, *, X=None, opset_version=None, dynamo="auto", tolerance=1e-4
):
    """Export the student to an ONNX file, checked with onnxruntime.

    The graph takes one float32 input ``"X"`` of shape ``(n_rows,
    n_features)`` (any number of rows) in the teacher's units, applies the
    student's standardisation, network and output scaling, and returns
    ``"y"``, shaped like :meth:`DataFreeDistillRegressor.predict`'s output.
    After writing, the file is loaded with onnxruntime and compared with
    ``predict``.

    For a teacher fitted on a DataFrame with text or category columns
    (``distiller.columns_``), the graph instead takes one input per column,
    named as the column, each of shape ``(n_rows, 1)``: strings for text and
    category levels (a missing value as ``""``), int64 for integer columns
    without missing values and integer levels, bool for boolean columns,
    float32 (NaN for missing) otherwise. The column encoding of ``predict``
    is in the graph (:meth:`~skdistill._columns.TableSchema.to_onnx`): an
    unseen level counts as no level, a missing number as its column's
    typical value. ``distiller.columns_.onnx_inputs(frame)`` makes the
    inputs from a frame.

    Parameters
    ----------
    distiller : DataFreeDistillRegressor
        A fitted distiller.
    path : str or path-like
        Where to write the ``.onnx`` file.
    X : array-like of shape (n_samples, n_features), default=None
        Rows to check the export on (a DataFrame for a DataFrame teacher).
        ``None`` draws 256 rows from the distiller's ``domain_``.
    opset_version : int, default=None
        ONNX opset; ``None`` uses the exporter's default.
    dynamo : "auto" or bool, default="auto"
        Use torch's ``torch.export``-based exporter (needs ``onnxscript``).
        ``"auto"`` uses it when ``onnxscript`` is installed and falls back
        to the TorchScript-based exporter (with a warning) if it fails or
        ``onnxscript`` is missing.
    tolerance : float, default=1e-4
        Largest accepted difference from ``predict``, relative to the largest
        absolute prediction on the check rows.

    Returns
    -------
    path : pathlib.Path
        The written file.

    Raises
    ------
    ImportError
        If onnxruntime (or, for ``dynamo=True``, onnxscript; for a DataFrame
        teacher, onnx) is not installed: ``python -m pip install
        'skdistill[onnx]'``.
    RuntimeError
        If the exported graph disagrees with ``predict`` beyond
        ``tolerance``.

    See Also
    --------
    export_torchscript : The same student as a TorchScript file.
    save_weights : The student's weights alone, safe to load.

    Examples
    --------
    >>> import onnxruntime as ort  # doctest: +SKIP
    >>> export_onnx(distiller, "student.onnx")  # doctest: +SKIP
    >>> session = ort.InferenceSession("student.onnx")  # doctest: +SKIP
    >>> session.run(None, {"X": X.astype("float32")})[0]  # doctest: +SKIP

    A DataFrame teacher's student takes the frame's columns:

    >>> feed = distiller.columns_.onnx_inputs(frame)  # doctest: +SKIP
    >>> session.run(None, feed)[0]  # doctest: +SKIP
    """
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError(
            "export_onnx checks the exported file with onnxruntime, which is not "
            "installed: python -m pip install 'skdistill[onnx]'"
        ) from exc
    if dynamo not in ("auto", True, False):
        raise ValueError(f"dynamo must be 'auto', True or False; got {dynamo!r}.")
    has_onnxscript = importlib.util.find_spec("onnxscript") is not None
    if dynamo is True and not has_onnxscript:
        raise ImportError(
            "dynamo=True needs onnxscript: python -m pip install 'skdistill[onnx]', "
            "or pass dynamo=False for the TorchScript-based exporter."
        )
    deployed = _deployed(distiller, "export_onnx")
    columns = getattr(distiller, "columns_", None)
    codes, rows = _check_rows(distiller, X)
    path = pathlib.Path(os.fspath(path))
    example = torch.from_numpy(codes[:2].copy())

    with _quiet_torch():
        if dynamo is False or not has_onnxscript:
            _onnx_legacy(deployed, example, path, opset_version)
        elif dynamo is True:
            _onnx_dynamo(deployed, example, path, opset_version)
        else:
            try:
                _onnx_dynamo(deployed, example, path, opset_version)
            except Exception as exc:
                warnings.warn(
                    f"torch's dynamo ONNX exporter failed ({type(exc).__name__}: "
                    f"{str(exc)[:200]}); exporting with the TorchScript-based "
                    "exporter instead.",
                    UserWarning,
                    stacklevel=2,
                )
                _onnx_legacy(deployed, example, path, opset_version)
    if columns is not None:
        _compose_onnx(path, columns)
    _add_onnx_metadata(path, deployed, columns)

    session = onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"]
    )
    feed = {"X": codes} if columns is None else columns.onnx_inputs(rows)
    # The output is "y", unless a column has that name (then "student/y").
    (got,) = session.run([session.get_outputs()[0].name], feed)
    _verify("ONNX", got, distiller, rows, tolerance)
    return path


def export_torchscript(distiller, path, *, X=None, tolerance=1e-4):
    """Export the student to a TorchScript file, checked after reloading.

    The module is traced (``torch.jit.trace``) on two rows and accepts any
    number of rows of raw inputs in the teacher's units; it returns
    predictions shaped like :meth:`DataFreeDistillRegressor.predict`'s.
    Load it with ``torch.jit.load(path)``, without skdistill. For a teacher
    fitted on a DataFrame with text or category columns, the module takes
    code-space rows, ``distiller.columns_.encode(frame)``, not the frame;
    :func:`export_onnx` puts the encoding in the file.

    TorchScript is deprecated in recent PyTorch releases in favour of
    ``torch.export``; prefer :func:`export_onnx` for new deployments.

    Parameters
    ----------
    distiller : DataFreeDistillRegressor
        A fitted distiller.
    path : str or path-like
        Where to write the file (conventionally ``.pt`` or ``.ts``).
    X : array-like of shape (n_samples, n_features), default=None
        Rows to check the export on (a DataFrame for a DataFrame teacher).
        ``None`` draws 256 rows from the distiller's ``domain_``.
    tolerance : float, default=1e-4
        Largest accepted difference from ``predict``, relative to the largest
        absolute prediction on the check rows.

    Returns
    -------
    path : pathlib.Path
        The written file.

    Raises
    ------
    RuntimeError
        If the reloaded module disagrees with ``predict`` beyond
        ``tolerance``.

    See Also
    --------
    export_onnx : The same student as an ONNX graph.

    Examples
    --------
    >>> import torch  # doctest: +SKIP
    >>> export_torchscript(distiller, "student.ts")  # doctest: +SKIP
    >>> module = torch.jit.load("student.ts")  # doctest: +SKIP
    >>> module(torch.as_tensor(X, dtype=torch.float32))  # doctest: +SKIP
    """
    deployed = _deployed(distiller, "export_torchscript")
    codes, rows = _check_rows(distiller, X)
    path = pathlib.Path(os.fspath(path))
    example = torch.from_numpy(codes[:2].copy())
    with _quiet_torch(), torch.no_grad():
        traced = torch.jit.trace(deployed, example, check_trace=False)
        torch.jit.save(traced, str(path))
        loaded = torch.jit.load(str(path), map_location="cpu")
        got = loaded(torch.from_numpy(codes)).numpy()
    _verify("TorchScript", got, distiller, rows, tolerance)
    return path


def _architecture(distiller):
    """How to rebuild the default student's network; None for a custom student."""
    student = distiller.student_
    inner = getattr(student.module_, "inner", None)
    if distiller.student is not None or not isinstance(inner, MLPStudent):
        return None
    return {
        "module": "MLPStudent",
        "n_features": int(student.module__n_features),
        "n_outputs": int(student.module__n_outputs),
        "hidden_layer_sizes": [int(s) for s in student.module__hidden_layer_sizes],
        "activation": str(student.module__activation),
        "degree": int(inner.degree),
    }


def save_weights(distiller, path):
    """Save the student's weights and standardisation, loadable without pickle.

    The file holds tensors and plain Python values only, so
    :func:`load_weights` reads it with ``torch.load(..., weights_only=True)``,
    which cannot run code hidden in the file (unlike unpickling a distiller,
    a skorch net or any pickle from a source you do not trust).

    Parameters
    ----------
    distiller : DataFreeDistillRegressor
        A fitted distiller.
    path : str or path-like
        Where to write the file (conventionally ``.pt``).

    Returns
    -------
    path : pathlib.Path
        The written file.

    Raises
    ------
    ValueError
        For the student of a teacher fitted on a DataFrame with text or
        category columns (``distiller.columns_``): its weights alone would
        lose the column encoding. Use :func:`export_onnx` (the encoding is in
        the graph), or save the whole fitted distiller (skops, joblib).

    See Also
    --------
    load_weights : Rebuild the student from the file.

    Examples
    --------
    >>> save_weights(distiller, "student.pt")  # doctest: +SKIP
    >>> load_weights("student.pt").predict(X)  # doctest: +SKIP
    """
    deployed = _deployed(distiller, "save_weights")
    if getattr(distiller, "columns_", None) is not None:
        raise ValueError(
            "save_weights keeps the student's network but not the encoding of the "
            "teacher's DataFrame columns (distiller.columns_), so the weights alone "
            "could not take your frames. Use export_onnx (one input per column, "
            "the encoding inside the graph), or save the whole fitted distiller "
            "(skops.io.dump or joblib.dump)."
        )
    from . import __version__

    payload = {
        "format": _WEIGHTS_FORMAT,
        "version": _WEIGHTS_VERSION,
        "skdistill_version": __version__,
        "architecture": _architecture(distiller),
        "output_1d": deployed.output_1d,
        "feature_names": deployed.feature_names,
        "state_dict": {
            key: value.detach().cpu().clone()
            for key, value in deployed.module.state_dict().items()
        },
    }
    path = pathlib.Path(os.fspath(path))
    torch.save(payload, path)
    return path


def load_weights(path, module=None):
    """Rebuild a student saved by :func:`save_weights`, without unpickling code.

    The file is read with ``torch.load(..., weights_only=True)``.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_weights`.
    module : torch.nn.Module, default=None
        A freshly constructed network of the same architecture as the
        student's own (``distiller.student_.module_.inner``). Needed only
        when the distiller was given a custom ``student``; the default
        ``MLPStudent`` is rebuilt from the file.

    Returns
    -------
    student : DeployedStudent
        In eval mode, on CPU: ``student(torch_rows)`` or
        ``student.predict(numpy_rows)``, raw inputs to the teacher's units.

    Raises
    ------
    ValueError
        If the file is not a skdistill student, or a custom student's
        ``module`` is missing or does not fit the saved weights.
    """
    path = os.fspath(path)
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != _WEIGHTS_FORMAT:
        raise ValueError(
            f"{path} is not a student saved by skdistill.save_weights (for a skorch "
            "net's own save_params file, use net.load_params)."
        )
    if payload.get("version", 0) > _WEIGHTS_VERSION:
        raise ValueError(
            f"{path} was written by a newer skdistill "
            f"({payload.get('skdistill_version')}); upgrade skdistill to load it."
        )
    architecture = payload["architecture"]
    if module is None:
        if architecture is None:
            raise ValueError(
                f"{path} holds a custom student network; pass module=... (a new "
                "instance of its class, built with the same arguments) to load it."
            )
        architecture = {k: v for k, v in architecture.items() if k != "module"}
        module = MLPStudent(**architecture)
    state = payload["state_dict"]
    standardized = StandardizedModule(
        module,
        torch.zeros_like(state["x_loc"]),
        torch.ones_like(state["x_scale"]),
        torch.zeros_like(state["y_loc"]),
        torch.ones_like(state["y_scale"]),
    )
    try:
        standardized.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(
            f"The network given as module does not fit the weights in {path}: {exc}"
        ) from None
    deployed = DeployedStudent(
        standardized, payload["output_1d"], payload["feature_names"]
    )
    return deployed.eval().requires_grad_(False)
