"""Teachers that misbehave on purpose, for test_reliability.py and its subprocesses.

Importable from a plain ``python -c`` subprocess (``sys.path`` holding this
folder), so that a fit in another process uses the very same teacher class.
"""

import os
import signal
import time

import numpy as np


class SineTeacher:
    """A fitted black-box regressor with no state: ``sin(X) @ w + 0.1 * x0 * x_last``.

    Parameters
    ----------
    n_features : int
        Input width.
    kill_when : str, default=None
        A path: once it exists, the next ``predict`` kills the process with
        SIGKILL, as ``kill -9`` would (no cleanup, no exception).
    delay : float, default=0.0
        Seconds every ``predict`` call sleeps: a slow teacher.
    """

    def __init__(self, n_features=5, kill_when=None, delay=0.0):
        self.n_features_in_ = n_features
        self.kill_when = kill_when
        self.delay = delay
        self.calls = []  # rows per predict call
        self.first_rows = []  # the first query of each call

    def predict(self, X):
        if self.kill_when is not None and os.path.exists(self.kill_when):
            os.kill(os.getpid(), signal.SIGKILL)
        if self.delay:
            time.sleep(self.delay)
        X = np.asarray(X, dtype=np.float64)
        self.calls.append(X.shape[0])
        self.first_rows.append(X[0].copy())
        w = np.linspace(1.0, 2.0, X.shape[1])
        return np.sin(X) @ w + 0.1 * X[:, 0] * X[:, -1]


class NaNWhere(SineTeacher):
    """Answers NaN (or ``value``) where the first feature exceeds ``threshold``."""

    def __init__(self, n_features=5, threshold=0.5, value=np.nan):
        super().__init__(n_features)
        self.threshold = threshold
        self.value = value

    def predict(self, X):
        y = super().predict(X)
        y[np.asarray(X)[:, 0] > self.threshold] = self.value
        return y


class NaNAfter(SineTeacher):
    """Answers finitely on its first ``n_good_calls`` calls, NaN afterwards."""

    def __init__(self, n_features=5, n_good_calls=1):
        super().__init__(n_features)
        self.n_good_calls = n_good_calls

    def predict(self, X):
        y = super().predict(X)
        if len(self.calls) > self.n_good_calls:
            y[:] = np.nan
        return y


class InterruptAt(SineTeacher):
    """Raises KeyboardInterrupt (a Ctrl-C) on its ``call``-th predict call."""

    def __init__(self, n_features=5, call=6):
        super().__init__(n_features)
        self.call = call

    def predict(self, X):
        if len(self.calls) + 1 == self.call:
            self.calls.append(0)
            raise KeyboardInterrupt
        return super().predict(X)


class Returns:
    """A teacher whose ``predict`` returns ``output(X)``."""

    def __init__(self, output, n_features=5):
        self.output = output
        self.n_features_in_ = n_features

    def predict(self, X):
        return self.output(np.asarray(X))


class NoPredict:
    """Fitted-looking, but nothing to ask."""

    n_features_in_ = 5

    def transform(self, X):
        return X
