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
    """One trained GANITE core and the per-arm baseline (coef, as
    fit_baseline returns; the arms in log_arms with a log link) it was
    trained around: the core learned each arm's outcome minus the baseline,
    on the networks' scale, and the member's predictions and draws add the
    baseline back."""

    __slots__ = ("core", "coef", "log_arms")

    def __init__(self, core, coef, log_arms=()):
        self.core, self.coef, self.log_arms = core, coef, tuple(log_arms)

    def line(self, Z):
        return _baseline.line(Z, self.coef, self.log_arms)

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
    """Members trained on `rows` of (X32, codes, y32) (all when None;
    repeats allowed), one for each factual weight in p['betas']: the
    per-arm baseline first (identity link, or a log link for the arms in
    p['log_arms']), when p['baseline'] is not 'none' and the outcome
    continuous, then one counterfactual block on the residuals and, from
    copies of it, one inference block per beta.  Returns (members, one per
    beta; generator and discriminator losses; inference losses, one array
    per beta), or None when stopped."""
    coef = np.zeros((X32.shape[1] + 1, K))
    log_arms = ()
    target = y32
    if p["baseline"] != "none" and not binary and _baseline.fits_baseline(X32.shape[1], K):
        log_arms = p["log_arms"]
        coef = _baseline.fit_baseline(X32, codes, y32, rows, K, stop, log_arms)
        if coef is None:
            return None
        target = _baseline.line(X32, coef, log_arms)[np.arange(len(codes)), codes]
        target = np.ascontiguousarray(y32 - target, dtype=np.float32)
    out = train_core(p, X32, codes, target, K, binary, seed, rows, stop, bar)
    if out is None:
        return None
    cores, g_loss, d_loss, i_losses = out
    return [Member(core, coef, log_arms) for core in cores], g_loss, d_loss, i_losses


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
        return None if out is None else summarize(out[0][0], sample)
    members = []
    for f in range(folds):
        out = train_member(p, Z, codes, y32, K, binary, member_seeds[f], sample[fold != f], stop, bar)
        if out is None:
            return None
        members.append(out[0][0])
    return summarize(members, sample, fold, int(core_seed) % 2**63)


def core_config(p, d, K, binary, seed=0):
    """The C core's arguments for checked parameters p, d covariates, K arms."""
    return dict(n_features=d, n_treatments=K, hidden_size=p["hidden_size"], n_hidden=p["n_hidden"],
                noise_dim=p["noise_dim"], binary_outcome=int(binary), batch_size=p["batch_size"],
                d_steps=p["d_steps"], alpha=p["alpha"], beta=p["betas"][0], learning_rate=p["learning_rate"],
                weight_decay=p["weight_decay"], seed=int(seed), crps_weight=p.get("crps_weight", 0.0))


def check_memory(p, d, K, binary, rows, members, what):
    """MemoryError unless `members` members trained on `rows` rows each (a
    core for each beta of p['betas']) fit in the budget (cgan._memory)."""
    per_member = len(p["betas"]) * _cgan.Ganite.nbytes(**core_config(p, d, K, binary), n_rows=rows)
    _memory.check(members * per_member,
                  f"{what} with hidden_size={p['hidden_size']}, n_hidden={p['n_hidden']} and {members} networks "
                  f"trained at once", "lower hidden_size, n_hidden, n_estimators or n_jobs")


def train_core(p, X32, codes, y32, K, binary, seed, rows, stop, bar):
    """GANITE trained in C on `rows` of (X32, codes, y32) (all rows when
    None; repeats allowed), in chunks so that `stop` and the progress bar
    are served: one counterfactual block, then for each beta of p['betas']
    an inference block on a copy of it, restarted with that factual weight
    (each copy starts I from the same weights and draws the same
    minibatches, so the copies differ by beta alone).  Returns (cores, one
    per beta; generator and discriminator losses; inference losses, one
    array per beta), or None when stopped."""
    betas = p["betas"]
    core = _cgan.Ganite(**core_config(p, X32.shape[1], K, binary, seed))
    core.set_data(X32, codes, y32, rows=rows, copy=False)
    g_all, d_all = [np.zeros(0)], [np.zeros(0)]
    cores, i_losses = [], []
    try:
        for size in chunks(p["n_iter"]):
            if stop.is_set():
                return None
            g, dl = core.train_counterfactual(size)
            g_all.append(g)
            d_all.append(dl)
            bar.update(len(g), G=float(g[-1]), D=float(dl[-1]))
        snapshot = core.snapshot() if len(betas) > 1 else None
        for b, beta in enumerate(betas):
            ite = core if b == len(betas) - 1 else _cgan.Ganite.restore(snapshot)
            if ite is not core:
                ite.set_data(X32, codes, y32, rows=rows, copy=False)
            try:
                ite.restart_ite(beta)
                i_all = [np.zeros(0)]
                for size in chunks(p["n_iter_ite"]):
                    if stop.is_set():
                        return None
                    il = ite.train_ite(size)
                    i_all.append(il)
                    bar.update(len(il), I=float(il[-1]))
            finally:
                ite.clear_data()
            cores.append(ite)
            i_losses.append(np.concatenate(i_all))
    finally:
        core.clear_data()
    return cores, np.concatenate(g_all), np.concatenate(d_all), i_losses


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
