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
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import torch
from skorch.callbacks import Callback, LRScheduler

__all__ = [
    "Checkpoint",
    "RoundCheckpoint",
    "capture_state",
    "check_resumable",
    "load_checkpoint",
    "params_fingerprint",
    "restore_strategy",
]

_FORMAT = 3  # 2: the bare module's weights, without its standardisation; 3: the
# student's replay window
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
    capture : callable or None
        ``capture(net)`` returns ``(tensors, meta)``; set by ``fit`` once
        every object it reads exists. Not pickled.
    """

    def __init__(self, folder, capture=None):
        self.folder = folder
        self.capture = capture

    def on_epoch_end(self, net, **kwargs):
        if self.capture is None:
            return
        tensors, meta = self.capture(net)
        save_checkpoint(self.folder, len(net.history), tensors, meta, net.history)

    def __getstate__(self):
        # The capture reads the live fit (torch generators are not picklable).
        return {**self.__dict__, "capture": None}


def _keep_best(net):
    return dict(net.callbacks_)["keep_best"]


def _schedulers(net):
    return {
        name: callback.lr_scheduler_
        for name, callback in net.callbacks_
        if isinstance(callback, LRScheduler) and hasattr(callback, "lr_scheduler_")
    }


def capture_state(
    net, *, teacher, stream, generator, rng, strategy, holdout, probe, domain, meta
):
    """Return ``(tensors, meta)``: everything a resumed fit needs after this round."""
    rounds = stream.rounds
    keep_best = _keep_best(net)
    strategy_tensors, strategy_meta = _strategy_state(strategy)
    tensors = {
        "module": net.module_.state_dict(),
        "optimizer": net.optimizer_.state_dict(),
        "schedulers": {
            name: scheduler.state_dict() for name, scheduler in _schedulers(net).items()
        },
        "best_weights": keep_best.best_model_weights_,
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "holdout_x": holdout[0].cpu(),
        "holdout_y": holdout[1].cpu(),
        "probe_x": probe[0].cpu(),
        "probe_y": probe[1].cpu(),
        "domain": {
            name: torch.from_numpy(np.asarray(getattr(domain, name), dtype=np.float64))
            for name in ("loc", "scale", "low", "high")
        },
        "strategy": strategy_tensors,
        "window": stream.window_state(),
    }
    meta = {
        **meta,
        "format": _FORMAT,
        "n_rounds": len(net.history),
        "used": rounds.used,
        "n_labelled": rounds.n_labelled,
        "n_teacher_queries": teacher.n_queries,
        "n_invalid_queries": teacher.n_invalid,
        "seconds": net.history[-1, "seconds"],
        "numpy_rng": rng.bit_generator.state,
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
    """Put back what skorch's ``on_train_begin`` resets, for a resumed fit.

    skorch's ``LRScheduler`` builds a new scheduler and ``EarlyStopping``
    forgets its best round when training begins. This callback comes after
    both and restores them (and the optimizer, whose learning rate a new
    scheduler may have moved), then drops its copies.

    Parameters
    ----------
    keep_best : dict or None
        Attributes of the ``keep_best`` EarlyStopping callback.
    optimizer : dict or None
        The optimizer's state dict.
    schedulers : dict or None
        State dicts of LRScheduler callbacks' schedulers, by callback name.
    """

    def __init__(self, keep_best=None, optimizer=None, schedulers=None):
        self.keep_best = keep_best
        self.optimizer = optimizer
        self.schedulers = schedulers

    def on_train_begin(self, net, **kwargs):
        if self.optimizer is not None:
            net.optimizer_.load_state_dict(self.optimizer)
        schedulers = _schedulers(net)
        for name, state in (self.schedulers or {}).items():
            schedulers[name].load_state_dict(state)
        for name, value in (self.keep_best or {}).items():
            setattr(_keep_best(net), name, deepcopy(value))
        self.keep_best = self.optimizer = self.schedulers = None
