"""Round checkpoints: resume a long fit after a crash, from safe formats only.

With ``checkpoint_dir`` set, the distiller writes after every round a folder
``round-NNNNNN`` holding

- ``state.pt``: tensors and plain containers only (the student's and the
  optimizer's state, the best round's weights, learning-rate scheduler
  states, random-number-generator states, the hold-out and probe queries and
  the query strategy's fitted tensors), read back with
  ``torch.load(..., weights_only=True)``, which refuses anything else;
- ``history.json``: the skorch history;
- ``meta.json``: counters, the seed, the numpy generator's state and a
  fingerprint of the parameters.

No pickle is ever loaded. A round's folder is written under a temporary name
and renamed when complete, so a kill at any moment leaves the previous
round's checkpoint intact.
"""

import json
import os
import shutil
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import torch
from skorch.callbacks import Callback, LRScheduler

__all__ = [
    "Checkpoint",
    "FitState",
    "RoundCheckpoint",
    "capture_state",
    "check_resumable",
    "load_checkpoint",
    "params_fingerprint",
    "restore_strategy",
]

_FORMAT = 4  # 2: the bare module's weights, without its standardisation; 3: the
# student's replay window; 4: the best round's weights with the standardisation,
# and the history's first round of the fit
_PREFIX = "round-"
_STATE, _HISTORY, _META = "state.pt", "history.json", "meta.json"
# Parameters that change neither the queries nor the student: a checkpoint
# written with other values of them can be resumed.
_RESUMABLE_ACROSS = {
    "teacher",  # checked by its answers to the probe queries instead
    "verbose",
    "checkpoint_dir",
    "n_threads",
    "max_time",
    "warm_start",
    "device",  # checked as the resolved device type instead
}


@dataclass
class Checkpoint:
    """One round's checkpoint, as read back from its folder."""

    folder: Path
    tensors: dict
    meta: dict
    history: list


def params_fingerprint(params):
    """Return ``{name: hash}`` of the parameters that shape the fit.

    ``random_state`` counts only as an int: ``None`` or a ``RandomState``
    resumes with the seed stored in the checkpoint.
    """
    return {
        name: joblib.hash(value)
        for name, value in sorted(params.items())
        if name not in _RESUMABLE_ACROSS
        and not (name == "random_state" and not isinstance(value, (int, np.integer)))
    }


def save_checkpoint(folder, n_rounds, tensors, meta, history):
    """Write one round's checkpoint atomically; keep only the newest two."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{_PREFIX}{n_rounds:06d}"
    partial = folder / f".{final.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    torch.save(tensors, partial / _STATE)
    history.to_file(str(partial / _HISTORY))
    (partial / _META).write_text(json.dumps(meta))
    # A resumed fit writes a round it had already written before a crash.
    shutil.rmtree(final, ignore_errors=True)
    os.replace(partial, final)
    for old in _round_folders(folder)[2:]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in folder.glob(f".{_PREFIX}*.partial-*"):
        if stale != partial:
            shutil.rmtree(stale, ignore_errors=True)
    return final


def _round_folders(folder):
    """Complete round folders, newest first."""
    rounds = [
        p
        for p in Path(folder).glob(f"{_PREFIX}*")
        if p.is_dir() and p.name[len(_PREFIX) :].isdigit()
    ]
    return sorted(rounds, key=lambda p: int(p.name[len(_PREFIX) :]), reverse=True)


def load_checkpoint(folder):
    """Return the newest complete checkpoint in ``folder``, or None.

    Tensors are read with ``torch.load(..., weights_only=True)``: a file
    that holds anything but tensors and plain containers is refused rather
    than executed.
    """
    if not Path(folder).is_dir():
        return None
    for path in _round_folders(folder):
        if not all((path / name).is_file() for name in (_STATE, _HISTORY, _META)):
            continue
        meta = json.loads((path / _META).read_text())
        if meta.get("format") != _FORMAT:
            raise ValueError(
                f"The checkpoint {path} has format {meta.get('format')!r}; this "
                f"version of skdistill reads format {_FORMAT}. Use another "
                "checkpoint_dir or remove the folder."
            )
        tensors = torch.load(path / _STATE, map_location="cpu", weights_only=True)
        history = json.loads((path / _HISTORY).read_text())
        return Checkpoint(path, tensors, meta, history)
    return None


def check_resumable(checkpoint, fingerprint, teacher, device, domain, probe):
    """Raise ValueError unless ``checkpoint`` continues this very fit."""
    meta, where = checkpoint.meta, checkpoint.folder
    advice = (
        f"Pass another checkpoint_dir to start afresh, or remove {where.parent} "
        "to discard the checkpoint."
    )
    changed = sorted(
        name
        for name in fingerprint.keys() | meta["params"].keys()
        if fingerprint.get(name) != meta["params"].get(name)
    )
    if changed:
        raise ValueError(
            f"The checkpoint in {where} was written by a fit with other values of "
            f"{changed}; resuming it would mix two configurations. {advice}"
        )
    if meta["device"] != device.type:
        raise ValueError(
            f"The checkpoint in {where} was written on {meta['device']!r}, not "
            f"{device.type!r}. Set device={meta['device']!r} to resume it. {advice}"
        )
    saved = checkpoint.tensors["domain"]
    for name, value in saved.items():
        if not np.array_equal(getattr(domain, name), value.numpy()):
            raise ValueError(
                f"The checkpoint in {where} was written for another input domain "
                f"({name} differs; now {domain.source!r}). {advice}"
            )
    x, y = probe
    same_teacher = (
        meta["teacher"] == teacher.name
        and torch.equal(x.cpu(), checkpoint.tensors["probe_x"])
        and torch.allclose(
            y.cpu(), checkpoint.tensors["probe_y"], rtol=1e-5, atol=1e-6, equal_nan=True
        )
    )
    if not same_teacher:
        raise ValueError(
            f"The checkpoint in {where} was written for another teacher "
            f"({meta['teacher']}): the teacher {teacher.name} answers the probe "
            f"queries differently. {advice}"
        )


class RoundCheckpoint(Callback):
    """Write a resumable checkpoint after every round.

    Placed after ``keep_best`` (whose state it saves) and before the
    callback that may end the fit, so the last round is saved too.

    Parameters
    ----------
    folder : str or path-like
        Where the ``round-NNNNNN`` folders go.
    state : FitState
        The live fit, read after every round (its query stream, generators,
        strategy and hold-out). Let go of when training ends, and never
        pickled.
    """

    def __init__(self, folder, state=None):
        self.folder = folder
        self.state = state

    def on_epoch_end(self, net, **kwargs):
        if self.state is None:
            return
        tensors, meta = capture_state(net, self.state)
        save_checkpoint(self.folder, len(net.history), tensors, meta, net.history)

    def on_train_end(self, net, **kwargs):
        self.state = None

    def __getstate__(self):
        # The live fit holds torch generators, which are not picklable.
        return {**self.__dict__, "state": None}


def _keep_best(net):
    return dict(net.callbacks_)["keep_best"]


def _schedulers(net):
    return {
        name: callback.lr_scheduler_
        for name, callback in net.callbacks_
        if isinstance(callback, LRScheduler) and hasattr(callback, "lr_scheduler_")
    }


def capture_state(net, state):
    """Return ``(tensors, meta)``: everything a resumed fit needs after this round."""
    stream = state.stream
    rounds = stream.rounds
    keep_best = _keep_best(net)
    strategy_tensors, strategy_meta = _strategy_state(rounds.strategy)
    domain, (holdout_x, holdout_y), (probe_x, probe_y) = (
        state.domain,
        state.holdout,
        state.probe,
    )
    tensors = {
        "module": net.module_.inner.state_dict(),
        "optimizer": net.optimizer_.state_dict(),
        "schedulers": {
            name: scheduler.state_dict() for name, scheduler in _schedulers(net).items()
        },
        "best_weights": keep_best.best_model_weights_,
        "generator": state.generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "holdout_x": holdout_x.cpu(),
        "holdout_y": holdout_y.cpu(),
        "probe_x": probe_x.cpu(),
        "probe_y": probe_y.cpu(),
        "domain": {
            name: torch.from_numpy(np.asarray(getattr(domain, name), dtype=np.float64))
            for name in ("loc", "scale", "low", "high")
        },
        "strategy": strategy_tensors,
        "window": stream.window_state(),
    }
    teacher = rounds.context.teacher
    meta = {
        **state.meta,
        "format": _FORMAT,
        "n_rounds": len(net.history),
        "first_round": state.first_round,
        "used": rounds.used,
        "n_labelled": rounds.n_labelled,
        "n_teacher_queries": teacher.n_queries,
        "n_invalid_queries": teacher.n_invalid,
        "seconds": net.history[-1, "seconds"],
        "numpy_rng": rounds.context.rng.bit_generator.state,
        "keep_best": {
            "dynamic_threshold_": float(keep_best.dynamic_threshold_),
            "best_epoch_": int(keep_best.best_epoch_),
            "misses_": int(keep_best.misses_),
        },
        "strategy": strategy_meta,
        "torch_version": torch.__version__,
    }
    return tensors, meta


def _strategy_state(strategy):
    """Split a strategy's fitted attributes into tensors and JSON values."""
    tensors, meta = {}, {}
    for name, value in vars(strategy).items():
        if not name.endswith("_") or name.startswith("_"):
            continue
        if value is None or isinstance(value, (bool, int, float, str)):
            meta[name] = ["value", value]
        elif torch.is_tensor(value):
            tensors[name], meta[name] = value.detach().cpu(), ["tensor", None]
        elif isinstance(value, np.ndarray):
            tensors[name], meta[name] = torch.from_numpy(value.copy()), ["numpy", None]
        elif isinstance(value, (torch.nn.Module, torch.optim.Optimizer)):
            tensors[name], meta[name] = value.state_dict(), ["state_dict", None]
        else:
            raise TypeError(
                f"Cannot checkpoint the fitted attribute {name} of "
                f"{type(strategy).__name__} (a {type(value).__name__}): checkpoints "
                "hold tensors, arrays, modules, optimizers and plain values only. "
                "Set checkpoint_dir=None for this strategy."
            )
    return tensors, meta


def restore_strategy(strategy, tensors, meta, device):
    """Put back the fitted attributes saved by :func:`capture_state`."""
    for name, (kind, value) in meta.items():
        if kind == "value":
            setattr(strategy, name, value)
        elif kind == "tensor":
            setattr(strategy, name, tensors[name].to(device))
        elif kind == "numpy":
            setattr(strategy, name, tensors[name].numpy())
        else:
            getattr(strategy, name).load_state_dict(tensors[name])


class ResumeState(Callback):
    """Put back the optimizer and schedulers that skorch resets, for a resumed fit.

    skorch's ``LRScheduler`` builds a new scheduler when training begins.
    This callback comes after it and restores it (and the optimizer, whose
    learning rate a new scheduler may have moved), then drops its copies.

    Parameters
    ----------
    optimizer : dict or None
        The optimizer's state dict.
    schedulers : dict or None
        State dicts of LRScheduler callbacks' schedulers, by callback name.
    """

    def __init__(self, optimizer=None, schedulers=None):
        self.optimizer = optimizer
        self.schedulers = schedulers

    def on_train_begin(self, net, **kwargs):
        if self.optimizer is not None:
            net.optimizer_.load_state_dict(self.optimizer)
        schedulers = _schedulers(net)
        for name, state in (self.schedulers or {}).items():
            schedulers[name].load_state_dict(state)
        self.optimizer = self.schedulers = None


@dataclass
class FitState:
    """What one call to ``fit`` starts from, and the live fit a checkpoint reads.

    Built by :meth:`from_scratch`, :meth:`from_fitted` (a warm start goes on
    training the fitted student) or :meth:`from_checkpoint` (a resumed fit
    goes on from the last saved round). ``fit`` fills in the live part
    (``holdout`` onwards) as it builds each piece.
    """

    seed: int = None
    checkpoint: Checkpoint = None
    carried_holdout: tuple = None
    module: dict = None
    x_units: tuple = None
    optimizer: dict = None
    new_cycle: bool = False
    schedulers: dict = None
    keep_best: dict = None
    history: list = field(default_factory=list)
    n_teacher_queries: int = 0
    n_invalid_queries: int = 0
    seconds: float = 0.0
    budget: int = None
    rounds: dict = None
    first_round: int = 0
    # The live fit, filled in by ``fit``.
    holdout: tuple = None
    y_units: tuple = None  # the hold-out answers' (mean, scale), per output
    probe: tuple = None
    domain: object = None
    generator: object = None
    stream: object = None
    meta: dict = None

    @classmethod
    def from_scratch(cls):
        """A fit that starts afresh."""
        return cls()

    @classmethod
    def from_fitted(cls, distiller):
        """A warm start: the fitted ``distiller``'s student goes on training."""
        student = distiller.student_
        history = list(student.history)
        scored = [
            (row["holdout_loss"], row["epoch"])
            for row in history
            if "holdout_loss" in row
        ]
        keep_best = None
        if scored:
            # The student holds its best round: it is the one to beat.
            loss, epoch = min(scored)
            keep_best = {
                "dynamic_threshold_": loss,
                "best_epoch_": epoch,
                "misses_": 0,
                "best_model_weights_": student.module_.state_dict(),
            }
        return cls(
            carried_holdout=distiller._holdout,
            module=student.module_.inner.state_dict(),
            x_units=tuple(u.cpu() for u in student.units[:2]),
            optimizer=student.optimizer_.state_dict(),
            new_cycle=True,
            keep_best=keep_best,
            history=history,
            n_teacher_queries=distiller.n_teacher_queries_,
            n_invalid_queries=distiller.n_invalid_queries_,
            seconds=history[-1]["seconds"] if scored else 0.0,
            first_round=len(history),
        )

    @classmethod
    def from_checkpoint(cls, checkpoint):
        """A resumed fit, from a checkpoint read without pickle."""
        tensors, meta = checkpoint.tensors, checkpoint.meta
        return cls(
            seed=meta["seed"],
            checkpoint=checkpoint,
            carried_holdout=(tensors["holdout_x"], tensors["holdout_y"]),
            module=tensors["module"],
            optimizer=tensors["optimizer"],
            schedulers=tensors["schedulers"],
            keep_best={
                **meta["keep_best"],
                "best_model_weights_": tensors["best_weights"],
            },
            history=checkpoint.history,
            n_teacher_queries=meta["n_teacher_queries"],
            n_invalid_queries=meta["n_invalid_queries"],
            seconds=meta["seconds"],
            budget=meta["budget"],
            rounds={
                "used": meta["used"],
                "n_labelled": meta["n_labelled"],
                "generator": tensors["generator"],
                "torch_rng": tensors["torch_rng"],
                "numpy_rng": meta["numpy_rng"],
                "strategy": (tensors["strategy"], meta["strategy"]),
                "window": tensors["window"],
            },
            first_round=meta["first_round"],
        )

    @property
    def continued(self):
        """Whether the fit goes on from a fitted student or a checkpoint."""
        return self.carried_holdout is not None

    def check(self, fingerprint, teacher, device, domain, probe):
        """Return the carried hold-out on ``device``, after checking it fits."""
        if self.checkpoint is not None:
            check_resumable(
                self.checkpoint, fingerprint, teacher, device, domain, probe
            )
        x, y = (t.to(device) for t in self.carried_holdout)
        what = (
            "the checkpoint" if self.checkpoint is not None else "the fitted student_"
        )
        if x.shape[1] != teacher.n_features or y.shape[1] != probe[1].shape[1]:
            raise ValueError(
                f"The teacher takes {teacher.n_features} features and returns "
                f"{probe[1].shape[1]} outputs, but {what} was fitted for "
                f"{x.shape[1]} and {y.shape[1]}. Set warm_start=False (or another "
                "checkpoint_dir) to start afresh."
            )
        return x, y

    def resume_callbacks(self):
        """The callback that puts back the optimizer and schedulers skorch resets."""
        if not self.continued:
            return []
        resume = ResumeState(
            optimizer=None if self.new_cycle else self.optimizer,
            schedulers=self.schedulers,
        )
        return [("resume", resume)]

    def load_student(self, student):
        """Put the continued student's weights, history and optimizer in place."""
        if not self.continued:
            return
        try:
            student.module_.inner.load_state_dict(self.module)
        except RuntimeError as exc:
            raise ValueError(
                "warm_start=True continues the fitted student_, but the student the "
                "current parameters build has another architecture. Set "
                "warm_start=False to start afresh."
            ) from exc
        student.history.extend(deepcopy(self.history))
        if self.new_cycle:
            # A warm start keeps the optimizer's running statistics but takes
            # the current hyperparameters: a new learning-rate cycle.
            optimizer = student.optimizer_
            fresh = [
                {k: v for k, v in group.items() if k != "params"}
                for group in optimizer.param_groups
            ]
            optimizer.load_state_dict(self.optimizer)
            for group, hyperparameters in zip(optimizer.param_groups, fresh):
                group.update(hyperparameters)
                group["initial_lr"] = group["lr"]

    def restore_rounds(self, stream, generator, device):
        """Put a resumed fit's query stream where the checkpoint left it."""
        if self.rounds is None:
            return
        state, rounds = self.rounds, stream.rounds
        stream.load_window_state(state["window"], device)
        tensors, meta = state["strategy"]
        restore_strategy(rounds.strategy, tensors, meta, device)
        rounds.used = state["used"]
        rounds.n_labelled = state["n_labelled"]
        generator.set_state(state["generator"])
        rounds.context.rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
