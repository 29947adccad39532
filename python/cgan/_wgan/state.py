"""What a fitted CausalWGAN holds, and the checks a loaded one must pass.

The persistence container (cgan._persist) asks CausalWGAN for these through
BaseEstimator's protocol; nothing outside this package names CausalWGAN's
private attributes."""
from __future__ import annotations

import numpy as np

from .. import _cgan
from .._base import check_saved_classes
from .._persist import check_array, restore_core
from .._tabular import Column, is_label, valid_indicator
from .chain import Classifier, JointWgan, LinearWgan, context_width
from .core import dims

# The attributes a fit sets: a saved fitted model holds exactly these (the
# optional ones are absent in files from before they existed: without
# _t_model, the covariate model is conditioned on the treatment, which is
# drawn from its frequencies _t_freq).
STATE_KEYS = (
    {"_columns", "_cov_cols", "_cov_gan", "_dtypes", "_n_fit", "_out_col", "_out_gan", "_sample_seed", "_t_col",
     "_t_freq", "classes_", "covariates_", "history_", "outcome_", "treatment_"},
    {"_derived", "_t_model", "_private", "privacy_spent_"},
)
# parameters added after the format was first written, with the value that
# reproduces what earlier versions did
ADDED_PARAMS = {"mass_at_bounds": False, "derive_indicators": False, "range_margin": None, "epsilon": None,
                "delta": None, "max_grad_norm": 1.0}


def check_state(state):
    """Raise ValueError unless `state` (holding exactly STATE_KEYS' keys) is
    a consistent fitted CausalWGAN."""
    K = len(check_saved_classes(state))
    cols = state.get("_cov_cols")
    if type(cols) is not list or not cols:
        raise ValueError("saved _cov_cols must be a non-empty list")
    for col in cols + [state.get("_t_col"), state.get("_out_col")]:
        if type(col) is not Column:
            raise ValueError("a saved column encoder is missing or of the wrong type")
    # models saved since the covariates come first draw the outcome by a
    # line and a WGAN (a classifier for a categorical one); earlier ones by
    # a WGAN alone
    first = "_t_model" in state
    private = state.get("_private", False)
    if private is not True and "_private" in state:
        raise ValueError("saved _private must be True when present")
    spent = state.get("privacy_spent_")
    if private:
        check_private_state(state, cols, K)
        return check_roles(state, cols)
    if spent is not None:
        raise ValueError("saved privacy_spent_ must be None for a model fitted without privacy")
    outcome = (Classifier if state["_out_col"].categorical else LinearWgan) if first else _cgan.Wgan
    covariates = JointWgan if first else _cgan.Wgan
    if type(state.get("_cov_gan")) is not covariates or type(state.get("_out_gan")) is not outcome:
        raise ValueError(f"saved _cov_gan must be a {covariates.__name__} and _out_gan a {outcome.__name__}")
    if state["_t_col"].width != K:
        raise ValueError("saved _t_col does not match classes_")
    freq = check_array(state, "_t_freq", 1, shape=(K,), finite=True)
    if not np.all(freq >= 0) or not abs(freq.sum() - 1) < 1e-6:
        raise ValueError("saved _t_freq must be K probabilities")
    # models saved before derived indicators existed derive none
    derived = state.get("_derived", [])
    if type(derived) is not list or not all(valid_indicator(d, cols) for d in derived) or \
            len({d[0] for d in derived}) != len(derived):
        raise ValueError("saved _derived must list [indicator, source, bound, level] of distinct two-level "
                         "covariates, each derived from a bound of a continuous one")
    x_dim = sum(c.width for c in cols)
    if first and not (type(state["_t_model"]) is Classifier and state["_t_model"].width == K
                      and state["_t_model"].kind != "frequencies" and context_width(state["_t_model"]) == x_dim):
        raise ValueError("saved _t_model must be a classifier of the treatment given the covariates")
    out, out_col = state["_out_gan"], state["_out_col"]
    if not first:
        fits = dims(out) == (out_col.width, x_dim + K)
    elif out_col.categorical:
        fits = out.width == out_col.width and out.kind != "frequencies" and context_width(out) == x_dim + K
    else:
        fits = context_width(out) == x_dim + K and all(getattr(out_col, side) is not None for side in out.sides)
    cov = state["_cov_gan"]
    if dims(cov.core if first else cov) != (x_dim, 0 if first else K) or not fits:
        raise ValueError("saved _cov_gan or _out_gan does not match the saved columns")
    check_roles(state, cols)


def check_private_state(state, cols, K):
    """The models and the spent budget of a privately fitted CausalWGAN."""
    x_dim = sum(c.width for c in cols)
    cov, out = state.get("_cov_gan"), state.get("_out_gan")
    if type(cov) is not _cgan.Wgan or type(out) is not _cgan.Wgan or "_t_model" in state:
        raise ValueError("a private CausalWGAN saves two WGAN cores and no treatment model")
    if dims(cov) != (x_dim + K, 0) or dims(out) != (state["_out_col"].width, x_dim + K):
        raise ValueError("saved _cov_gan or _out_gan does not match the saved columns")
    spent = state.get("privacy_spent_")
    keys = {"epsilon", "delta", "epsilon_requested", "noise_multiplier", "max_grad_norm", "sample_rate", "accountant",
            "split"}
    if type(spent) is not dict or set(spent) != keys or not all(
            isinstance(spent[k], (int, float)) and np.isfinite(spent[k]) and spent[k] >= 0
            for k in keys - {"accountant", "split"}) or type(spent["split"]) is not dict:
        raise ValueError("saved privacy_spent_ must hold the spent epsilon and delta, the noise, the clipping norm, "
                         "the sampling rate, the accountant and the split")
    if state.get("_derived", []) != []:
        raise ValueError("a private CausalWGAN derives no indicators")
    freq = check_array(state, "_t_freq", 1, shape=(K,), finite=True)
    if not np.all(freq >= 0) or not abs(freq.sum() - 1) < 1e-6:
        raise ValueError("saved _t_freq must be K probabilities")


def check_roles(state, cols):
    """The sample seed, the columns, their dtypes and roles of a saved CausalWGAN."""
    if type(state.get("_sample_seed")) is not int or not 0 <= state["_sample_seed"] < 2**64:
        raise ValueError("saved _sample_seed must be an int in [0, 2**64)")
    columns = state.get("_columns")
    if type(columns) is not list or not all(is_label(c) for c in columns):
        raise ValueError("saved _columns must be a list of column labels")
    dtypes = state.get("_dtypes")
    if type(dtypes) is not dict or set(dtypes) != set(columns) or not all(
            isinstance(v, np.dtype) or (type(v).__module__ or "").startswith("pandas") for v in dtypes.values()):
        raise ValueError("saved _dtypes must map every column to its dtype")
    covariates = state.get("covariates_")
    if (type(covariates) is not list or [c.name for c in cols] != covariates
            or state.get("treatment_") != state["_t_col"].name or state.get("outcome_") != state["_out_col"].name
            or not set(covariates) | {state["treatment_"], state["outcome_"]} <= set(columns)):
        raise ValueError("saved column roles do not match the saved columns")


def legacy_state(state):
    """A pickle from before the container held the cores as snapshots, and
    columns from before point masses and log scales lack those attributes."""
    for key in ("_cov_gan", "_out_gan"):
        if isinstance(state.get(key), bytes):
            state[key] = restore_core(_cgan.Wgan, state[key])
    cols = state.get("_cov_cols")
    for i, col in enumerate(cols if isinstance(cols, list) else []):
        cols[i] = _legacy_column(col)
    for key in ("_t_col", "_out_col"):
        if key in state:
            state[key] = _legacy_column(state[key])
    return state


def _legacy_column(col):
    """A column unpickled from an earlier version, rebuilt and checked as a
    loaded file's is (which fills in the attributes it lacks)."""
    if not hasattr(col, "__dict__"):
        raise ValueError(f"a pickled column encoder must be an object, got {type(col).__name__}")
    return Column._from_saved(dict(vars(col)))
