"""SCIGAN's ensemble members: one C core each, trained in chunks around the
member's own baseline (baseline.py).

Training runs in the C core in chunks (see _progress.chunks), so that a stop
event (an error elsewhere, or Ctrl-C) and the progress bar are served between
calls without changing the results."""
from __future__ import annotations

import numpy as np

from .. import _cgan, _memory
from .._progress import chunks
from . import baseline as _dose_baseline


class Member:
    """One trained SCIGAN core and the baseline (coef, basis) it was
    trained around: the core learned what the baseline leaves, and the
    member's curves and draws add it back, the networks' part weighted by
    `weight` (the ensemble's network_weight_)."""

    __slots__ = ("core", "coef", "basis", "weight")

    def __init__(self, core, coef, basis, weight=1.0):
        self.core, self.coef, self.basis, self.weight = core, coef, basis, weight

    def baseline(self, Z, k, u):
        return _dose_baseline.evaluate(Z, u, self.coef, self.basis, k)

    def networks(self, Z, k, u):
        """The inference networks' part of the outcomes of treatment code k
        at unit doses u (n, m), unweighted, float64 (n, m)."""
        return self.core.predict(Z, k, np.ascontiguousarray(u, dtype=np.float32)).astype(np.float64)

    def curves(self, Z, k, u):
        """Outcomes of treatment code k at unit doses u (n, m) for rows Z,
        float64 (n, m)."""
        u32 = np.ascontiguousarray(u, dtype=np.float32)
        return self.weight * self.networks(Z, k, u32) + self.baseline(Z, k, u32)

    def factual_parts(self, Z, codes, u):
        """(baseline, networks) at each row's own treatment and unit dose,
        each (n,)."""
        base, net = np.empty(Z.shape[0]), np.empty(Z.shape[0])
        for k in np.unique(codes):
            rows = np.flatnonzero(codes == k)
            base[rows] = self.baseline(Z[rows], int(k), u[rows, None])[:, 0]
            net[rows] = self.networks(Z[rows], int(k), u[rows, None])[:, 0]
        return base, net

    def sample(self, Z, t, u_obs, y_obs, k, u, seed):
        """One draw of G's outcomes of treatment code k at unit doses u (n,
        m), anchored at the observed (t, u_obs, y_obs): the anchor taken
        off the baseline, the draw put back on it."""
        u32 = np.ascontiguousarray(u, dtype=np.float32)
        anchor = np.asarray(y_obs, dtype=np.float64) - self.factual_parts(Z, t, u_obs)[0]
        draw = self.core.sample(Z, t, np.asarray(u_obs, dtype=np.float32), anchor.astype(np.float32), k, u32, 1,
                                int(seed))[0]
        return self.weight * draw + self.baseline(Z, k, u32)


def core_config(p, d, K, seed=0):
    """The C core's arguments for checked parameters p, d covariates and K
    treatments."""
    return dict(n_features=d, n_treatments=K, hidden_size=p["hidden_size"], n_hidden=p["n_hidden"],
                n_dosage_samples=p["n_dosage_samples"], noise_dim=p["noise_dim"], batch_size=p["batch_size"],
                d_steps=p["d_steps"], activation=p["activation"], alpha=p["alpha"], beta=p["beta"],
                learning_rate=p["learning_rate"], weight_decay=p["weight_decay"], seed=int(seed))


def check_memory(p, d, K, members, what):
    """MemoryError unless `members` cores fit in the budget (cgan._memory)."""
    per_member = _cgan.Scigan.nbytes(**core_config(p, d, K))
    _memory.check(members * per_member,
                  f"{what} with hidden_size={p['hidden_size']}, batch_size={p['batch_size']}, "
                  f"n_dosage_samples={p['n_dosage_samples']} and {members} networks trained at once",
                  "lower hidden_size, batch_size, n_dosage_samples, n_estimators or n_jobs")


def train_member(p, Z, codes, u32, y32, K, seed, rows, stop, bar, weight=1.0):
    """A Member trained on `rows` of the data (all rows when None; repeats
    allowed) whose networks weigh `weight`: its baseline first
    (p['baseline'] 'linear'), then the core on what the baseline leaves, in
    chunks so that `stop` and the progress bar are served.  Doses are on each treatment's [0, 1] scale.  Returns
    (member, generator, dosage-discriminator, treatment-discriminator and
    inference losses), or None when stopped."""
    if p["baseline"] == "linear":
        fitted = _dose_baseline.fit(Z, codes, u32, y32, rows, K, stop)
        if fitted is None:
            return None
        coef, basis = fitted
    else:
        basis = np.array([_dose_baseline.KNOTS[0], 0], dtype=np.int64)
        coef = np.zeros((_dose_baseline.width(Z.shape[1], int(basis[0]), False) + 1, K))
    member = Member(None, coef, basis, weight)
    base = np.empty(Z.shape[0])
    for k in np.unique(codes):
        rows = np.flatnonzero(codes == k)
        base[rows] = member.baseline(Z[rows], int(k), u32[rows, None])[:, 0]
    target = np.ascontiguousarray(y32 - base, dtype=np.float32)
    core = _cgan.Scigan(**core_config(p, Z.shape[1], K, seed))
    core.set_data(Z, codes, u32, target, rows=rows, copy=False)
    losses = [[np.zeros(0)] for _ in range(4)]
    try:
        for size in chunks(p["n_iter"]):
            if stop.is_set():
                return None
            g, dd, dt = core.train_gan(size)
            for out, new in zip(losses, (g, dd, dt)):
                out.append(new)
            bar.update(len(g), G=float(g[-1]), D=float(dd[-1]))
        for size in chunks(p["n_iter_ite"]):
            if stop.is_set():
                return None
            il = core.train_inference(size)
            losses[3].append(il)
            bar.update(len(il), I=float(il[-1]))
    finally:
        core.clear_data()
    member.core = core
    return (member, *(np.concatenate(x) for x in losses))


def train_fold_member(shared, m):
    """Member m of an ensemble, trained on every fold of the rows but fold
    m (all rows when fold is None); shared is (p, Z, codes, u32, y32, K,
    seeds, fold, stop, bar)."""
    p, Z, codes, u32, y32, K, seeds, fold, stop, bar = shared
    rows = None if fold is None else np.flatnonzero(fold != m)
    return train_member(p, Z, codes, u32, y32, K, seeds[m], rows, stop, bar)


def network_weight(y, base, net):
    """The weight in [0, 1] of the networks' part that best predicts y,
    by least squares: held-out (cross-fitted) baselines and networks'
    predictions give a weight that trusts the networks only as far as they
    predict rows they did not see."""
    denominator = float(np.dot(net, net))
    if not denominator > 0:
        return 0.0
    return float(np.clip(np.dot(y - base, net) / denominator, 0.0, 1.0))


def to_unit(doses, lo, hi):
    """Doses on a treatment's [0, 1] scale over its fitted range [lo, hi]
    (arrays of one range per dose, or scalars); a range of one dose has
    width 1."""
    return (doses - lo) / np.where(hi > lo, hi - lo, 1.0)


def curves(members, Z, k, u):
    """The members' mean of their outcomes of treatment code k at unit doses
    u (n, m) for standardised rows Z; float64 (n, m)."""
    out = members[0].curves(Z, k, u)
    for member in members[1:]:
        out += member.curves(Z, k, u)
    return out / len(members)
