"""GANITE's ensemble members: one C core each, trained around the per-arm
linear baseline of its own rows.

Training runs in the C core in chunks (see _progress.chunks), so that a stop
event (an error elsewhere, or Ctrl-C) and the progress bar are served
between calls without changing the results."""
from __future__ import annotations

import numpy as np

from .. import _cgan
from .. import _baseline, _memory
from .._progress import chunks


class Member:
    """One trained GANITE core and the per-arm line (coef, as
    fit_baseline returns) it was trained around: the core learned each
    arm's outcome minus the line, on the networks' scale, and the member's
    predictions and draws add the line back."""

    __slots__ = ("core", "coef")

    def __init__(self, core, coef):
        self.core, self.coef = core, coef

    def line(self, Z):
        return _baseline.line(Z, self.coef)

    def predict(self, Z, line=None):
        """Predictions for rows Z; `line`, when given, is self.line(Z)."""
        return self.core.predict(Z).astype(np.float64) + (self.line(Z) if line is None else line)

    def sample(self, Z, t, anchor, n_samples, seed, line=None):
        """core.sample with the anchor outcomes taken off the line and every
        draw put back on it; `line`, when given, is self.line(Z)."""
        if line is None:
            line = self.line(Z)
        residual = np.asarray(anchor, dtype=np.float64) - line[np.arange(len(t)), t]
        return self.core.sample(Z, t, residual, n_samples, seed) + line


def train_member(p, X32, codes, y32, K, binary, seed, rows, stop, bar):
    """A Member trained on `rows` of (X32, codes, y32) (all when None;
    repeats allowed): the per-arm ridge line first, when p['baseline'] is
    'linear' and the outcome continuous, then the core on the residuals.
    Returns (member, generator, discriminator and inference losses), or
    None when stopped."""
    coef = np.zeros((X32.shape[1] + 1, K))
    target = y32
    if p["baseline"] == "linear" and not binary and _baseline.fits_baseline(X32.shape[1], K):
        coef = _baseline.fit_baseline(X32, codes, y32, rows, K, stop)
        if coef is None:
            return None
        target = _baseline.line(X32, coef)[np.arange(len(codes)), codes]
        target = np.ascontiguousarray(y32 - target, dtype=np.float32)
    out = train_core(p, X32, codes, target, K, binary, seed, rows, stop, bar)
    return None if out is None else (Member(out[0], coef), *out[1:])


def train_fold_member(shared, m):
    """Member m of an ensemble, trained on every fold of the rows but fold
    m (all rows when fold is None); shared is (p, X32, codes, y32, K,
    binary, seeds, fold, stop, bar)."""
    p, X32, codes, y32, K, binary, seeds, fold, stop, bar = shared
    rows = None if fold is None else np.flatnonzero(fold != m)
    return train_member(p, X32, codes, y32, K, binary, seeds[m], rows, stop, bar)


def train_replicate(shared, b):
    """Bootstrap replicate b: one member fitted to its resample, or one per
    fold's complement, summarised (see GANITE._refit_replicates); shared is
    (p, Z, codes, y32, K, binary, plans, folds, summarize, stop, bar)."""
    p, Z, codes, y32, K, binary, plans, folds, summarize, stop, bar = shared
    sample, fold, core_seed, member_seeds = plans[b]
    if fold is None:
        out = train_member(p, Z, codes, y32, K, binary, core_seed, sample, stop, bar)
        return None if out is None else summarize(out[0], sample)
    members = []
    for f in range(folds):
        out = train_member(p, Z, codes, y32, K, binary, member_seeds[f], sample[fold != f], stop, bar)
        if out is None:
            return None
        members.append(out[0])
    return summarize(members, sample, fold, int(core_seed) % 2**63)


def core_config(p, d, K, binary, seed=0):
    """The C core's arguments for checked parameters p, d covariates, K arms."""
    return dict(n_features=d, n_treatments=K, hidden_size=p["hidden_size"], n_hidden=p["n_hidden"],
                noise_dim=p["noise_dim"], binary_outcome=int(binary), batch_size=p["batch_size"],
                d_steps=p["d_steps"], alpha=p["alpha"], beta=p["beta"], learning_rate=p["learning_rate"],
                weight_decay=p["weight_decay"], seed=int(seed))


def check_memory(p, d, K, binary, rows, members, what):
    """MemoryError unless `members` cores trained on `rows` rows each fit
    in the budget (cgan._memory)."""
    per_member = _cgan.Ganite.nbytes(**core_config(p, d, K, binary), n_rows=rows)
    _memory.check(members * per_member,
                  f"{what} with hidden_size={p['hidden_size']}, n_hidden={p['n_hidden']} and {members} networks "
                  f"trained at once", "lower hidden_size, n_hidden, n_estimators or n_jobs")


def train_core(p, X32, codes, y32, K, binary, seed, rows, stop, bar):
    """One GANITE model trained in C on `rows` of (X32, codes, y32) (all rows
    when None; repeats allowed), in chunks so that `stop` and the progress
    bar are served.  Returns (core, generator, discriminator and inference
    losses), or None when stopped."""
    core = _cgan.Ganite(**core_config(p, X32.shape[1], K, binary, seed))
    core.set_data(X32, codes, y32, rows=rows, copy=False)
    g_all, d_all, i_all = [np.zeros(0)], [np.zeros(0)], [np.zeros(0)]
    try:
        for size in chunks(p["n_iter"]):
            if stop.is_set():
                return None
            g, dl = core.train_counterfactual(size)
            g_all.append(g)
            d_all.append(dl)
            bar.update(len(g), G=float(g[-1]), D=float(dl[-1]))
        for size in chunks(p["n_iter_ite"]):
            if stop.is_set():
                return None
            il = core.train_ite(size)
            i_all.append(il)
            bar.update(len(il), I=float(il[-1]))
    finally:
        core.clear_data()
    return core, np.concatenate(g_all), np.concatenate(d_all), np.concatenate(i_all)


def outcome_mean(member, Z, smear):
    """One member's expected potential outcomes for rows Z, float64, in the
    outcome's units: exp(prediction) * smear for a model fitted on log(Y)
    (smear: Duan's factor per arm), the prediction itself when smear is None."""
    mu = member.predict(Z)
    return mu if smear is None else np.exp(mu) * smear


def ensemble_mean(members, Z, smear):
    """The members' mean of outcome_mean on rows Z."""
    mu = outcome_mean(members[0], Z, smear)
    for member in members[1:]:
        mu += outcome_mean(member, Z, smear)
    return mu / len(members)
