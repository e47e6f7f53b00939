"""Command line: ``python -m skdistill distill TEACHER_FILE --out student.onnx``.

Loads a fitted teacher (skops, or a pickle only with ``--trust-pickle``),
distills it, prints the compression report and writes the student as ONNX,
TorchScript or weights. A teacher fitted on a DataFrame with text or category
columns takes its ``--domain-from`` rows from a CSV file with its columns,
and its ONNX student takes one input per column.
"""

import argparse
import pathlib
import sys

import numpy as np

__all__ = ["main"]

_FORMATS = ("onnx", "torchscript", "weights")
_SUFFIX_FORMATS = {
    ".onnx": "onnx",
    ".ts": "torchscript",
    ".torchscript": "torchscript",
    ".pt": "weights",
    ".pth": "weights",
}
_PICKLE_WARNING = (
    "warning: loading {path} with {loader} runs any code the file contains. "
    "Only load files you created or fully trust; prefer the skops format "
    "(skops.io.dump(teacher, 'teacher.skops'))."
)


class CLIError(Exception):
    """A problem the user can fix; printed without a traceback."""


def _build_parser():
    from . import __version__

    run_as_module = pathlib.Path(sys.argv[0]).name == "__main__.py"
    parser = argparse.ArgumentParser(
        prog="python -m skdistill" if run_as_module else "skdistill",
        description="Data-free distillation of a fitted regressor into a small "
        "neural network.",
    )
    parser.add_argument(
        "--version", action="version", version=f"skdistill {__version__}"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    distill = commands.add_parser(
        "distill",
        help="distill a saved teacher and write the student",
        description="Distill a saved, fitted regressor into a small network without "
        "its training data, print the compression report and write the student.",
        epilog="Teachers are read with skops (.skops: safe, every type it does not "
        "trust by default must be named with --trusted) or, only with "
        "--trust-pickle, with joblib (.joblib, .pkl, .pickle) or torch.load (.pt, "
        ".pth), which run any code the file contains.",
    )
    distill.add_argument("teacher", metavar="TEACHER_FILE", help="the fitted teacher")
    distill.add_argument(
        "--out", required=True, metavar="PATH", help="where to write the student"
    )
    distill.add_argument(
        "--format",
        choices=_FORMATS,
        help="output format; default from the suffix of --out: .onnx -> onnx, "
        ".ts -> torchscript, .pt/.pth -> weights (load with skdistill.load_weights)",
    )
    distill.add_argument(
        "--budget",
        type=int,
        metavar="N",
        help="teacher queries to spend (max_queries; default 400000)",
    )
    distill.add_argument(
        "--time", type=float, metavar="SECONDS", help="stop after this many seconds"
    )
    distill.add_argument(
        "--domain-from",
        metavar="FILE",
        help="unlabelled rows (.npy, or .csv with a header) that shape where "
        "queries are drawn; default: inferred from the teacher. A teacher fitted "
        "on a DataFrame takes a .csv with its columns (text as text)",
    )
    distill.add_argument(
        "--strategy",
        default="bounded_gap",
        choices=("bounded_gap", "gaussian", "uniform", "lhs", "generator"),
        help="query strategy (default: bounded_gap)",
    )
    distill.add_argument(
        "--hidden-layer-sizes",
        type=int,
        nargs="+",
        metavar="WIDTH",
        help=(
            "hidden layers of the student (default: auto, 50 for a network "
            "teacher and 64 64 for any other)"
        ),
    )
    distill.add_argument(
        "--trusted",
        nargs="+",
        default=[],
        metavar="TYPE",
        help="types a .skops teacher may contain beyond skops' defaults (the "
        "error for an untrusted file lists them)",
    )
    distill.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow loading a pickle-based teacher file (runs its code)",
    )
    distill.add_argument(
        "--report-rows",
        type=int,
        default=2000,
        metavar="N",
        help="rows for the compression report: from --domain-from, else drawn "
        "from the input domain (default: 2000)",
    )
    distill.add_argument(
        "--random-state", type=int, default=0, metavar="SEED", help="default: 0"
    )
    distill.add_argument(
        "--quiet", action="store_true", help="no progress bar during distillation"
    )
    return parser


def _output_format(args):
    if args.format is not None:
        return args.format
    suffix = pathlib.Path(args.out).suffix.lower()
    if suffix not in _SUFFIX_FORMATS:
        raise CLIError(
            f"cannot tell the output format from {args.out!r}; pass --format "
            f"{{{','.join(_FORMATS)}}} or use a suffix in "
            f"{sorted(_SUFFIX_FORMATS)}."
        )
    return _SUFFIX_FORMATS[suffix]


def load_teacher(path, *, trusted=(), trust_pickle=False, stderr=None):
    """Load a fitted teacher from ``path``: skops safely, pickles only if trusted.

    Parameters
    ----------
    path : str or path-like
        A ``.skops`` file, or a joblib/pickle (``.joblib``, ``.pkl``,
        ``.pickle``) or ``torch.save`` (``.pt``, ``.pth``) file.
    trusted : sequence of str, default=()
        Types a skops file may contain beyond those skops trusts by default.
    trust_pickle : bool, default=False
        Allow pickle-based files, which run any code they contain.
    stderr : file-like, default=None
        Where the pickle warning goes (``sys.stderr``).

    Returns
    -------
    teacher : object
        The loaded model.
    """
    path = pathlib.Path(path)
    stderr = sys.stderr if stderr is None else stderr
    if not path.is_file():
        raise CLIError(f"teacher file {str(path)!r} does not exist.")
    suffix = path.suffix.lower()
    if suffix == ".skops":
        try:
            import skops.io as sio
        except ImportError:
            raise CLIError(
                "reading a .skops teacher needs skops: python -m pip install "
                "'skdistill[cli]'"
            ) from None
        untrusted = sio.get_untrusted_types(file=path)
        missing = [name for name in untrusted if name not in set(trusted)]
        if missing:
            raise CLIError(
                f"{path} contains types that skops does not trust by default: "
                f"{', '.join(missing)}. Loading them runs their code; if you trust "
                f"the file's source, add: --trusted {' '.join(missing)}"
            )
        return sio.load(path, trusted=list(untrusted))
    if not trust_pickle:
        raise CLIError(
            f"{path} is not a .skops file. Pickle-based files (joblib, pickle, "
            "torch.save) run any code they contain when loaded: pass --trust-pickle "
            "only if you created the file or fully trust its source, or save the "
            "teacher with skops.io.dump(teacher, 'teacher.skops')."
        )
    if suffix in (".pt", ".pth"):
        import torch

        print(_PICKLE_WARNING.format(path=path, loader="torch.load"), file=stderr)
        return torch.load(path, map_location="cpu", weights_only=False)
    import joblib

    print(_PICKLE_WARNING.format(path=path, loader="joblib"), file=stderr)
    return joblib.load(path)


def _read_rows(path, teacher):
    """Unlabelled rows from a .npy or .csv file (a DataFrame when pandas is there)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise CLIError(f"--domain-from file {str(path)!r} does not exist.")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix != ".csv":
        raise CLIError(f"--domain-from must be a .npy or .csv file; got {str(path)!r}.")
    try:
        import pandas as pd
    except ImportError:
        with open(path) as f:
            first = f.readline().split(",")
        try:
            [float(v) for v in first]
            skip = 0
        except ValueError:
            skip = 1  # a header
        return np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)
    frame = pd.read_csv(path)
    names = getattr(teacher, "feature_names_in_", None)
    if names is not None and set(names) <= set(frame.columns):
        return frame[list(names)]
    columns = _table_columns(teacher)
    if columns is not None:
        missing = [n for n in columns.names if n not in frame]
        raise CLIError(
            f"--domain-from file {str(path)!r} lacks the teacher's column(s) "
            f"{missing}: its header must name the columns the teacher was fitted "
            "on."
        )
    return frame.to_numpy(dtype=np.float64)


def _table_columns(teacher):
    """The teacher's DataFrame columns (a TableSchema), or None for a numeric one."""
    from ._estimator import _read_columns

    return _read_columns(teacher, None)


def _report_rows(distiller, rows, n_rows, seed):
    """Rows for the report: given rows, else draws from the fitted domain."""
    import torch

    if rows is not None:
        if len(rows) <= n_rows:
            return rows, "the --domain-from rows"
        index = np.random.default_rng(seed).choice(len(rows), n_rows, replace=False)
        rows = rows.iloc[index] if hasattr(rows, "iloc") else rows[index]
        return rows, f"{n_rows:,} of the --domain-from rows"
    generator = torch.Generator().manual_seed(seed)
    X = distiller.domain_.sample(n_rows, generator, "cpu")
    columns = getattr(distiller, "columns_", None)
    if columns is not None:  # the domain holds codes of the teacher's columns
        X = columns.to_frame(columns.canonical(X))
        return X, f"synthetic rows from the input domain: {distiller.domain_.source}"
    X = X.numpy().astype(np.float64)
    names = getattr(distiller, "feature_names_in_", None)
    if names is not None:
        import pandas as pd  # a teacher fitted on a DataFrame implies pandas

        X = pd.DataFrame(X, columns=names)
    return X, f"synthetic rows from the input domain: {distiller.domain_.source}"


def _distill(args, stdout, stderr):
    from ._estimator import DataFreeDistillRegressor
    from ._export import export_onnx, export_torchscript, save_weights
    from ._report import compression_report

    out_format = _output_format(args)
    if args.report_rows < 1:
        raise CLIError(f"--report-rows must be positive; got {args.report_rows}.")
    teacher = load_teacher(
        args.teacher,
        trusted=args.trusted,
        trust_pickle=args.trust_pickle,
        stderr=stderr,
    )
    if out_format != "onnx" and _table_columns(teacher) is not None:
        # Fail before distilling: only the ONNX file holds the column encoding.
        raise CLIError(
            f"the teacher was fitted on a DataFrame with text or category columns, "
            f"whose encoding the {out_format} format would not hold. Write ONNX "
            "instead (--out student.onnx): one input per column, the encoding "
            "inside the graph."
        )
    rows = None if args.domain_from is None else _read_rows(args.domain_from, teacher)

    params = {
        "query_strategy": args.strategy,
        "random_state": args.random_state,
        "verbose": 0 if args.quiet else 1,
    }
    if args.budget is not None:
        params["max_queries"] = args.budget
    if args.time is not None:
        params["max_time"] = args.time
    if args.hidden_layer_sizes:
        params["hidden_layer_sizes"] = tuple(args.hidden_layer_sizes)
    distiller = DataFreeDistillRegressor(teacher, **params)
    distiller.fit(rows)

    X_report, described = _report_rows(
        distiller, rows, args.report_rows, args.random_state
    )
    report = compression_report(distiller, X_report)
    print(report, file=stdout)
    print(f"  rows: {described}", file=stdout)

    if rows is None:
        X_check = None
    elif getattr(distiller, "columns_", None) is not None:
        X_check = X_report.iloc[:256]
    else:
        X_check = np.asarray(X_report, dtype=np.float64)[:256]
    if out_format == "onnx":
        path = export_onnx(distiller, args.out, X=X_check)
        how = "ONNX, checked with onnxruntime against the student's predict"
    elif out_format == "torchscript":
        path = export_torchscript(distiller, args.out, X=X_check)
        how = "TorchScript, checked against the student's predict"
    else:
        path = save_weights(distiller, args.out)
        how = "weights; load with skdistill.load_weights"
    print(f"wrote {path} ({how})", file=stdout)


def main(argv=None, *, stdout=None, stderr=None):
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments; ``None`` reads ``sys.argv[1:]``.
    stdout, stderr : file-like, default=None
        Where output and errors go (``sys.stdout``, ``sys.stderr``).

    Returns
    -------
    status : int
        0 on success, 2 for a problem with the arguments or files, 1 when
        distillation or export failed.
    """
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    args = _build_parser().parse_args(argv)
    try:
        if args.command == "distill":
            _distill(args, stdout, stderr)
    except CLIError as exc:
        print(f"skdistill: error: {exc}", file=stderr)
        return 2
    except (ValueError, TypeError, RuntimeError, ImportError, OSError) as exc:
        print(f"skdistill: error: {type(exc).__name__}: {exc}", file=stderr)
        return 1
    return 0
