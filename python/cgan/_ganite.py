"""cgan.GANITE: individual and average treatment effects with GANITE.

GANITE (Yoon, Jordon & van der Schaar, 2018) trains a counterfactual
generator G against a discriminator D that tries to tell the factual outcome
among the K potential outcomes, then fits an inference network I(x) to G's
completed outcome vectors.  The training loops run in cgan's C core; this
module validates input, shows progress in chunks (so Ctrl-C works) and
exposes the EconML-style effect/ate/ate_interval API."""
from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import _cgan
from ._base import BaseEstimator
from ._progress import Progress
from ._validation import (
    check_float,
    check_int,
    check_outcome,
    check_random_state,
    check_treatment,
    check_X,
    encode_treatment,
    feature_names,
    treatment_code,
)

_CHUNK = 250  # iterations per call into C: short enough for Ctrl-C and progress
_PROPENSITY_CLIP = 0.01


def _normal_quantile(p: float) -> float:
    """Inverse of the standard normal CDF (Acklam's rational approximation,
    refined by one Newton step; error below 1e-12)."""
    if not 0 < p < 1:
        raise ValueError("p must lie in (0, 1)")
    a = [-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00]
    b = [-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01]
    c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00]
    d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00]
    lo = 0.02425
    if p < lo:
        q = math.sqrt(-2 * math.log(p))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    elif p <= 1 - lo:
        q = p - 0.5
        r = q * q
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    else:
        q = math.sqrt(-2 * math.log(1 - p))
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    e = 0.5 * math.erfc(-x / math.sqrt(2)) - p
    return x - e * math.sqrt(2 * math.pi) * math.exp(x * x / 2)


def _effective_jobs(n_jobs, n_tasks):
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, (bool, np.bool_)) or not isinstance(n_jobs, (int, np.integer)):
        raise TypeError(f"n_jobs must be None or an integer, got {type(n_jobs).__name__}")
    n_jobs = int(n_jobs)
    if n_jobs == 0:
        raise ValueError("n_jobs must not be 0; use None or 1 for one thread, -1 for all cores")
    cpus = os.cpu_count() or 1
    if n_jobs < 0:
        n_jobs = max(1, cpus + 1 + n_jobs)
    return max(1, min(n_jobs, n_tasks))


def _stratified_folds(codes, n_folds, seed):
    """Fold of each row, balanced within each treatment arm."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(codes), dtype=np.int64)
    offset = 0
    for arm in np.unique(codes):
        idx = np.flatnonzero(codes == arm)
        fold[rng.permutation(idx)] = (np.arange(len(idx)) + offset) % n_folds
        offset += len(idx)
    return fold


_ROWS_PER_PASS = 65536  # rows converted at a time, to bound temporaries on big data


def _column_scale(Xa):
    """Column means and standard deviations (1 for constant columns), in
    passes over row blocks so that no full-size temporary is made."""
    n, d = Xa.shape
    total = np.zeros(d)
    for i in range(0, n, _ROWS_PER_PASS):
        total += Xa[i:i + _ROWS_PER_PASS].sum(axis=0, dtype=np.float64)
    mean = total / n
    sq = np.zeros(d)
    for i in range(0, n, _ROWS_PER_PASS):
        block = Xa[i:i + _ROWS_PER_PASS] - mean
        sq += np.einsum("ij,ij->j", block, block)
    sd = np.sqrt(sq / n)
    sd[~(sd > 1e-12 * (np.abs(mean) + 1))] = 1.0
    return mean, sd


def _standardize(Xa, mean, sd):
    """(X - mean) / sd as a C-contiguous float32 array."""
    out = np.empty(Xa.shape, dtype=np.float32)
    for i in range(0, Xa.shape[0], _ROWS_PER_PASS):
        out[i:i + _ROWS_PER_PASS] = (Xa[i:i + _ROWS_PER_PASS] - mean) / sd
    return out


def _propensity(Z, codes, K, fold, seed):
    """P(T = k | x) from multinomial logistic regression on standardised
    covariates Z, fitted in C and cross-fitted over `fold` when given;
    clipped at 0.01 and renormalised."""
    n, d = Z.shape
    out = np.empty((n, K))
    if fold is None:
        groups = [(np.arange(n), np.arange(n))]
    else:
        groups = [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(int(fold.max()) + 1)]
    for g, (train, held) in enumerate(groups):
        net = _cgan.MLP([d, K], ["identity"], seed=(seed + 7919 * (g + 1)) % 2**64)
        net.fit_softmax(Z[train], codes[train], batch_size=min(256, len(train)), n_iter=3000,
                        learning_rate=1e-2, weight_decay=1e-3)
        logits = net.forward(Z[held]).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        out[held] = e / e.sum(axis=1, keepdims=True)
    out = np.clip(out, _PROPENSITY_CLIP, 1.0)
    return out / out.sum(axis=1, keepdims=True)


def _pseudo_outcomes(mu, propensity, codes, y):
    """Doubly robust (AIPW) pseudo-outcomes psi[i, k]."""
    n, K = mu.shape
    onehot = np.zeros((n, K))
    onehot[np.arange(n), codes] = 1.0
    return mu + onehot * (y[:, None] - mu) / propensity


class GANITE(BaseEstimator):
    """Treatment effects with generative adversarial nets (GANITE).

    Parameters
    ----------
    hidden_size : int, default=128
        Width of each hidden layer of the generator, discriminator and
        inference networks.
    n_hidden : int, default=2
        Hidden layers per network.
    n_estimators : int, default=5
        GANITE models, each with its own seed, whose predictions are
        averaged.  Adversarial training on small samples is noisy; on the
        training rows of IHDP, averaging five cut sqrt(PEHE) by about a
        quarter and the ATE error by more than half.  With two or more, the
        rows are split into n_estimators folds (balanced by arm) and member
        m trains on all folds but m, which gives the cross-fitted
        predictions that :meth:`ate_interval` needs.
    batch_size : int, default=256
        Rows per minibatch; must not exceed the number of training rows.
    n_iter : int, default=1000
        Iterations of the counterfactual block (each has ``d_steps``
        discriminator steps and one generator step).  The defaults of
        hidden_size, n_iter and weight_decay were chosen by in-sample PEHE
        on the training rows of IHDP replications 1-10 (never the test
        rows); see benchmarks/ihdp.py.
    n_iter_ite : int or None, default=None
        Iterations of the inference block; None uses ``n_iter``.
    d_steps : int, default=2
        Discriminator steps per generator step.
    alpha : float, default=1.0
        Weight of the adversarial term in the generator loss
        (supervised loss - alpha * discriminator loss).
    beta : float, default=1.0
        Weight of the factual entry in the inference network's loss.
    learning_rate : float, default=1e-3
        Adam step size for all three networks.  Predictions use an
        exponential moving average of the inference network's weights.
    weight_decay : float, default=0.1
        Decoupled (AdamW) weight decay.
    noise_dim : int, default=0
        Dimensions of the generator's Gaussian noise.  0 gives a
        deterministic generator; a positive value makes :meth:`sample` draw
        varied counterfactuals.
    outcome : {'auto', 'continuous', 'binary'}, default='auto'
        'auto' treats an outcome holding only 0 and 1 as binary.
    random_state : int, numpy Generator or None, default=None
        Seeds the model's own random stream.  The same value gives
        bit-identical fits.
    n_jobs : int or None, default=None
        Threads that train ensemble members in parallel (None: 1; -1: all
        cores).  Results are bit-identical whatever the value.
    verbose : bool, default=False
        Show training progress (tqdm when installed).

    Attributes
    ----------
    classes_ : ndarray
        The treatment labels, sorted; column k of :meth:`predict` is arm
        ``classes_[k]``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Present when X was a DataFrame.
    outcome_type_ : str
        'continuous' or 'binary'.
    history_ : dict of ndarray
        'generator_loss', 'discriminator_loss' and 'ite_loss', each of shape
        (n_estimators, iterations).
    """

    def __init__(
        self,
        *,
        hidden_size=128,
        n_hidden=2,
        n_estimators=5,
        batch_size=256,
        n_iter=1000,
        n_iter_ite=None,
        d_steps=2,
        alpha=1.0,
        beta=1.0,
        learning_rate=1e-3,
        weight_decay=0.1,
        noise_dim=0,
        outcome="auto",
        random_state=None,
        n_jobs=None,
        verbose=False,
    ):
        self.hidden_size = hidden_size
        self.n_hidden = n_hidden
        self.n_estimators = n_estimators
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.n_iter_ite = n_iter_ite
        self.d_steps = d_steps
        self.alpha = alpha
        self.beta = beta
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.noise_dim = noise_dim
        self.outcome = outcome
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def _check_params(self):
        p = {
            "hidden_size": check_int(self.hidden_size, "hidden_size", 1, 65536),
            "n_hidden": check_int(self.n_hidden, "n_hidden", 1, 64),
            "n_estimators": check_int(self.n_estimators, "n_estimators", 1, 1000),
            "batch_size": check_int(self.batch_size, "batch_size", 1, 1 << 24),
            "n_iter": check_int(self.n_iter, "n_iter", 0, 1 << 31),
            "n_iter_ite": check_int(self.n_iter if self.n_iter_ite is None else self.n_iter_ite,
                                    "n_iter_ite", 0, 1 << 31),
            "d_steps": check_int(self.d_steps, "d_steps", 1, 1000),
            "alpha": check_float(self.alpha, "alpha", 0.0),
            "beta": check_float(self.beta, "beta", 0.0),
            "learning_rate": check_float(self.learning_rate, "learning_rate", 0.0, 10.0, low_open=True),
            "weight_decay": check_float(self.weight_decay, "weight_decay", 0.0, 1e3),
            "noise_dim": check_int(self.noise_dim, "noise_dim", 0, 4096),
        }
        if self.outcome not in ("auto", "continuous", "binary"):
            raise ValueError(f"outcome must be 'auto', 'continuous' or 'binary', got {self.outcome!r}")
        _effective_jobs(self.n_jobs, 1)
        if not isinstance(self.verbose, (bool, np.bool_, int)):
            raise TypeError(f"verbose must be a bool, got {type(self.verbose).__name__}")
        return p

    def fit(self, Y, T, *, X):
        """Fit the counterfactual and inference blocks.

        Parameters
        ----------
        Y : array-like of shape (n,)
            Observed outcomes.
        T : array-like of shape (n,)
            Treatment received: any labels (numbers, strings, booleans);
            at least two distinct values.
        X : array-like or DataFrame of shape (n, d)
            Covariates.

        Returns
        -------
        self
        """
        p = self._check_params()
        Xa = check_X(X, "X")
        n, d = Xa.shape
        classes, codes = check_treatment(T, n)
        y, binary = check_outcome(Y, self.outcome, n)
        if p["batch_size"] > n:
            raise ValueError(f"batch_size={p['batch_size']} is larger than the {n} training rows; lower batch_size")
        seed = check_random_state(self.random_state)
        K = len(classes)
        M = p["n_estimators"]
        seeds = np.random.SeedSequence(seed).generate_state(M + 1, np.uint64)
        fold = _stratified_folds(codes, M, int(seeds[M]))
        for m in range(M if M > 1 else 0):
            if np.count_nonzero(fold != m) < p["batch_size"]:
                raise ValueError(
                    f"batch_size={p['batch_size']} is larger than the {np.count_nonzero(fold != m)} rows each "
                    f"ensemble member trains on; lower batch_size or n_estimators"
                )
        # One standardised float32 copy of the covariates, shared by every
        # member: networks train poorly on features of very different scales.
        x_mean, x_scale = _column_scale(Xa)
        X32 = _standardize(Xa, x_mean, x_scale)
        y32 = np.ascontiguousarray(y, dtype=np.float32)
        bar = Progress(M * (p["n_iter"] + p["n_iter_ite"]), "GANITE", bool(self.verbose))
        stop = threading.Event()

        def train_member(member):
            core = _cgan.Ganite(
                n_features=d, n_treatments=K, hidden_size=p["hidden_size"], n_hidden=p["n_hidden"],
                noise_dim=p["noise_dim"], binary_outcome=int(binary), batch_size=p["batch_size"],
                d_steps=p["d_steps"], alpha=p["alpha"], beta=p["beta"], learning_rate=p["learning_rate"],
                weight_decay=p["weight_decay"], seed=int(seeds[member]),
            )
            rows = np.flatnonzero(fold != member) if M > 1 else None
            core.set_data(X32, codes, y32, rows=rows, copy=False)
            g_all, d_all, i_all = [np.zeros(0)], [np.zeros(0)], [np.zeros(0)]
            try:
                for start in range(0, p["n_iter"], _CHUNK):
                    if stop.is_set():
                        return None
                    g, dl = core.train_counterfactual(min(_CHUNK, p["n_iter"] - start))
                    g_all.append(g)
                    d_all.append(dl)
                    bar.update(len(g), G=float(g[-1]), D=float(dl[-1]))
                for start in range(0, p["n_iter_ite"], _CHUNK):
                    if stop.is_set():
                        return None
                    il = core.train_ite(min(_CHUNK, p["n_iter_ite"] - start))
                    i_all.append(il)
                    bar.update(len(il), I=float(il[-1]))
            finally:
                core.clear_data()
            return core, np.concatenate(g_all), np.concatenate(d_all), np.concatenate(i_all)

        n_jobs = _effective_jobs(self.n_jobs, M)
        try:
            if n_jobs == 1:
                results = [train_member(m) for m in range(M)]
            else:
                # Members are independent and release the GIL, so threads
                # run them in parallel; each owns its RNG, so results do not
                # depend on n_jobs.
                with ThreadPoolExecutor(max_workers=n_jobs) as pool:
                    futures = [pool.submit(train_member, m) for m in range(M)]
                    try:
                        results = [f.result() for f in futures]
                    except BaseException:
                        stop.set()
                        raise
        except BaseException:
            stop.set()
            raise
        finally:
            bar.close()
        cores = [r[0] for r in results]
        history = {
            "generator_loss": [r[1] for r in results],
            "discriminator_loss": [r[2] for r in results],
            "ite_loss": [r[3] for r in results],
        }
        mu_oof = np.zeros((n, K))
        for member, core in enumerate(cores):
            held = np.flatnonzero(fold == member) if M > 1 else slice(None)
            mu_oof[held] = core.predict(X32[held])
        self._cores = cores
        self._x_mean, self._x_scale = x_mean, x_scale
        self.classes_ = classes
        self.n_features_in_ = d
        names = feature_names(X)
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.outcome_type_ = "binary" if binary else "continuous"
        self.history_ = {k: np.stack(v) for k, v in history.items()}
        self._mu_fit = self._predict_array(X32)
        propensity = _propensity(X32, codes, K, fold if M > 1 else None, seed)
        self.propensity_fit_ = propensity
        self._aipw_fit = _pseudo_outcomes(mu_oof, propensity, codes, y)
        return self

    # ------------------------------------------------------------ predict
    def _predict_array(self, Z):
        """Ensemble mean of the potential outcomes for standardised rows Z."""
        mu = self._cores[0].predict(Z).astype(np.float64)
        for core in self._cores[1:]:
            mu += core.predict(Z)
        return mu / len(self._cores)

    def _checked_X(self, X):
        """X validated against the fit and standardised as in fit."""
        self._check_is_fitted()
        Xa = check_X(X, "X", self.n_features_in_)
        names = feature_names(X)
        fitted = getattr(self, "feature_names_in_", None)
        if names is not None and fitted is not None and list(names) != list(fitted):
            raise ValueError("X's columns differ from those seen in fit (names or order)")
        return _standardize(Xa, self._x_mean, self._x_scale)

    def predict(self, X=None):
        """Potential outcomes, shape (n, K); column k is arm ``classes_[k]``.

        Probabilities for a binary outcome.  X=None gives the training rows."""
        if X is None:
            self._check_is_fitted()
            return self._mu_fit.copy()
        Z = self._checked_X(X)
        return self._predict_array(Z)

    def _arms(self, T0, T1):
        K = len(self.classes_)
        t0 = 0 if T0 is None else treatment_code(T0, self.classes_, "T0")
        if T1 is None:
            if K > 2:
                raise ValueError(f"T1 is required when there are {K} treatments; choose one of {list(self.classes_)}")
            t1 = 1
        else:
            t1 = treatment_code(T1, self.classes_, "T1")
        return t0, t1

    def effect(self, X=None, T0=None, T1=None):
        """Individual effects mu_T1(x) - mu_T0(x), shape (n,).

        T0 defaults to ``classes_[0]``; T1 to ``classes_[1]`` (required when
        there are more than two arms).  X=None gives the training rows."""
        self._check_is_fitted()
        t0, t1 = self._arms(T0, T1)
        mu = self.predict(X)
        return mu[:, t1] - mu[:, t0]

    def ate(self, X=None, T0=None, T1=None) -> float:
        """Average of :meth:`effect` over the rows of X (training rows when None)."""
        return float(np.mean(self.effect(X, T0, T1)))

    def ate_interval(self, X=None, T0=None, T1=None, *, T=None, Y=None, alpha=0.05):
        """A (1 - alpha) confidence interval for the average effect.

        Doubly robust (AIPW): mean(psi) +/- z * sd(psi) / sqrt(n) with
        psi_i = mu_T1(x_i) - mu_T0(x_i) + 1[t_i = T1] (y_i - mu_T1(x_i)) / e_T1(x_i)
        - 1[t_i = T0] (y_i - mu_T0(x_i)) / e_T0(x_i).  On the training rows
        (X=None) it is cross-fitted: each ensemble member trains on all folds
        but one, and mu and the propensities e of a row come from models
        that did not see it (n_estimators >= 2; with one member the fit is
        in-sample and the interval too narrow).  For other rows pass their T
        and Y as well: the ensemble has not seen them, and a logistic
        propensity model is fitted to them."""
        self._check_is_fitted()
        level = check_float(alpha, "alpha", 0.0, 1.0, low_open=True)
        if level >= 1.0:
            raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
        t0, t1 = self._arms(T0, T1)
        if X is None:
            if T is not None or Y is not None:
                raise ValueError("T and Y are only used together with X")
            psi = self._aipw_fit
        else:
            if T is None or Y is None:
                raise ValueError("an interval on new rows needs their observed T and Y as well as X")
            Z = self._checked_X(X)
            n = Z.shape[0]
            codes = encode_treatment(T, self.classes_, "T", n)
            y, _ = check_outcome(Y, self.outcome_type_, n)
            mu = self._predict_array(Z)
            seed = check_random_state(self.random_state)
            propensity = _propensity(Z, codes, len(self.classes_), None, seed)
            psi = _pseudo_outcomes(mu, propensity, codes, y)
        diff = psi[:, t1] - psi[:, t0]
        n = diff.shape[0]
        center = float(diff.mean())
        se = float(diff.std(ddof=1) / math.sqrt(n)) if n > 1 else float("inf")
        z = _normal_quantile(1 - level / 2)
        return center - z * se, center + z * se

    def sample(self, X, T, Y, n_samples=100):
        """Draws of the potential outcomes from the generator, shape
        (n_samples, n, K).

        The entry of the received arm is the observed Y; the others are the
        generator's counterfactuals (Bernoulli draws for a binary outcome).
        Draw s comes from member s % n_estimators of the ensemble, so with
        ``noise_dim=0`` the continuous counterfactuals vary only across
        members."""
        Z = self._checked_X(X)
        n = Z.shape[0]
        codes = encode_treatment(T, self.classes_, "T", n)
        y, _ = check_outcome(Y, self.outcome_type_, n)
        k = check_int(n_samples, "n_samples", 1, 1 << 20)
        M = len(self._cores)
        out = np.empty((k, n, len(self.classes_)))
        for member, core in enumerate(self._cores):
            count = len(range(member, k, M))
            if count:
                out[member::M] = core.sample(Z, codes, y, count)
        return out

    # -------------------------------------------------------------- pickle
    # save, dumps and pickle share BaseEstimator's validated container
    # (_persist); these attributes are left out of it
    _transient_attributes = ("_fit_data",)
