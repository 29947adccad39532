"""One conditional WGAN-GP over encoded tabular columns: its parameters'
checks, its training in C (in chunks, for Ctrl-C and progress) and seeded
draws.  Every synthesizer of cgan builds its models from these."""
from __future__ import annotations

import numpy as np

from .. import _cgan, _memory
from .._progress import chunks
from .._tabular import layout
from .._validation import LIMITS, check_flag, check_float, check_int, check_jobs, check_verbose, is_flag


def check_sides(one_sided, models):
    """one_sided as {model: bool} for each of `models`: one bool for all, or
    a dict naming some of them (the others one-sided)."""
    if is_flag(one_sided):
        return dict.fromkeys(models, bool(one_sided))
    names = " and ".join(repr(m) for m in models)
    if not isinstance(one_sided, dict):
        raise TypeError(f"one_sided must be a bool or a dict of bools keyed by {names}, got {one_sided!r}")
    unknown = [k for k in one_sided if k not in models]
    if unknown:
        raise ValueError(f"one_sided has unknown model(s) {unknown!r}; the models are {names}")
    for k, v in one_sided.items():
        if not is_flag(v):
            raise TypeError(f"one_sided[{k!r}] must be a bool, got {v!r}")
    return {k: bool(one_sided.get(k, True)) for k in models}


def check_params(est, models):
    """The WGAN parameters of a synthesizer `est`, checked; `models` names
    its WGANs (for one_sided)."""
    betas = est.betas
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise TypeError("betas must be a pair (beta1, beta2)")
    sides = check_sides(est.one_sided, models)
    check_jobs(est.n_jobs)
    for name in ("derive_indicators", "mass_at_bounds"):
        check_flag(getattr(est, name), name)
    check_verbose(est.verbose)
    return {
        "one_sided": sides,
        "hidden_size": check_int(est.hidden_size, "hidden_size", 1, LIMITS["hidden_size"]),
        "n_hidden": check_int(est.n_hidden, "n_hidden", 1, LIMITS["n_hidden"]),
        "batch_size": check_int(est.batch_size, "batch_size", 1, LIMITS["batch_size"]),
        "n_iter": check_int(est.n_iter, "n_iter", 0, LIMITS["n_iter"]),
        "critic_steps": check_int(est.critic_steps, "critic_steps", 1, LIMITS["critic_steps"]),
        "gp_lambda": check_float(est.gp_lambda, "gp_lambda", 0.0, 1e6),
        "critic_dropout": check_float(est.critic_dropout, "critic_dropout", 0.0, 0.99),
        "learning_rate": check_float(est.learning_rate, "learning_rate", 0.0, 10.0, low_open=True),
        "beta1": check_float(betas[0], "betas[0]", 0.0, 0.999),
        "beta2": check_float(betas[1], "betas[1]", 0.0, 0.99999),
        "noise_dim": None if est.noise_dim is None else check_int(est.noise_dim, "noise_dim", 1, LIMITS["noise_dim"]),
    }


def config(p, name, x_dim, ctx_dim, seed=0):
    """The C core's arguments for a WGAN of x_dim columns given ctx_dim."""
    return dict(x_dim=x_dim, ctx_dim=ctx_dim, noise_dim=p["noise_dim"] or x_dim, hidden_size=p["hidden_size"],
                n_hidden=p["n_hidden"], batch_size=p["batch_size"], critic_steps=p["critic_steps"],
                gp_lambda=p["gp_lambda"], one_sided=int(p["one_sided"][name]), critic_dropout=p["critic_dropout"],
                learning_rate=p["learning_rate"], beta1=p["beta1"], beta2=p["beta2"], seed=seed)


def check_memory(p, models, n, owner, private=False):
    """MemoryError unless the WGANs `models` ((name, x_dim, ctx_dim) each),
    trained at once on n rows (privately: with set_privacy's buffers), fit
    in the budget (cgan._memory)."""
    need = sum(_cgan.Wgan.nbytes(**config(p, name, x_dim, ctx_dim)) + 8 * n * (x_dim + ctx_dim)
               + (_cgan.Wgan.privacy_nbytes(**config(p, name, x_dim, ctx_dim)) if private else 0)
               for name, x_dim, ctx_dim in models)
    _memory.check(need, f"{owner}.fit with hidden_size={p['hidden_size']} and n_hidden={p['n_hidden']} on "
                  f"{n} rows", "lower hidden_size or n_hidden")


def train(p, name, cols, X, C, seed, stop, bar, owner, privacy=None):
    """A WGAN of columns `cols` (encoded rows X; None: continuous columns
    without limits) given the context C (which may have no columns),
    trained for p['n_iter'] generator steps; (core, history), or None when
    `stop` is set.  `owner` and `name` label a divergence error.  privacy:
    None, or (noise_multiplier, max_grad_norm, sample_rate) to train with
    DP-SGD (Wgan.set_privacy)."""
    if cols is None:
        d = X.shape[1]
        block, lower, upper = np.full(d, -1), np.full(d, -np.inf), np.full(d, np.inf)
    else:
        block, lower, upper = layout(cols)
    w = _cgan.Wgan(**config(p, name, X.shape[1], C.shape[1], seed), column_block=block, lower=lower, upper=upper)
    if privacy is not None:
        w.set_privacy(*privacy)
    w.set_data(X, C if C.shape[1] else None)
    hist = {"critic_loss": [], "generator_loss": [], "penalty": []}
    try:
        for size in chunks(p["n_iter"]):
            if stop.is_set():
                return None
            c, g, pen = w.train(size)
            hist["critic_loss"].append(c)
            hist["generator_loss"].append(g)
            hist["penalty"].append(pen)
            bar.update(len(c), critic=float(c[-1]))
    except FloatingPointError as exc:
        # the core names the network and the iteration; say which WGAN
        raise FloatingPointError(f"{owner}'s {name} model: {exc}") from None
    finally:
        w.clear_data()
    return w, {k: np.concatenate(v) if v else np.zeros(0) for k, v in hist.items()}


def draw(core, n, ctx, seed):
    """n rows from a trained WGAN given ctx (n rows; None without
    context), from the stream seeded by `seed`; the model is left as it
    was.  Each row's noise depends only on the seed and the row's position,
    not on ctx, so draws with one seed share their noise row by row."""
    return core.sample(n, ctx, seed=seed)


def dims(core):
    """(x_dim, ctx_dim) of a WGAN core."""
    config = core.config
    return config["x_dim"], config["ctx_dim"]


def seeds(seed, count):
    """`count` 64-bit seeds derived from one."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(count, np.uint64)]


