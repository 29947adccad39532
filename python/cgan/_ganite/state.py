"""What a fitted GANITE holds, and the checks a loaded one must pass.

The persistence container (cgan._persist) asks GANITE for these through
BaseEstimator's protocol; nothing outside this package names GANITE's
private attributes."""
from __future__ import annotations

import numpy as np

from .. import _cgan
from .._base import check_saved_classes
from .._effect_stage import EFFECT_MODELS
from .._persist import check_array, check_names_and_history, restore_core
from .._propensity import PROPENSITY_MODELS, SPLINE_KNOTS

SPLINE_COLUMNS = SPLINE_KNOTS + 2  # B-spline functions per continuous covariate

# The attributes a fit sets (feature_names_in_ only for named columns): a
# saved fitted model holds exactly these, so that no method meets a missing
# or stray attribute after a load.  The optional ones are absent in files
# from before they existed.
STATE_KEYS = (
    {"_codes_fit", "_cores", "_mu_fit", "_mu_oof", "_propensity_unclipped", "_x_mean", "_x_scale", "_y_fit",
     "classes_", "history_", "n_features_in_", "outcome_type_", "propensity_fit_", "propensity_model_"},
    {"feature_names_in_", "outcome_transform_", "_smear", "_baseline", "baseline_link_", "effect_model_",
     "_effect_coef", "_effect_splines", "draw_center_", "_score_fit", "_crps_fit",
     "_weight_coef", "_weight_fit"},
)
# parameters added after the format was first written, with the value that
# reproduces what earlier versions did
ADDED_PARAMS = {"outcome_transform": "none", "baseline": "none", "effect_model": "plugin", "crps_weight": 0.0}


def check_state(state):
    """Raise ValueError unless `state` (holding exactly STATE_KEYS' keys) is
    a consistent fitted GANITE."""
    K = len(check_saved_classes(state))
    d = state.get("n_features_in_")
    if type(d) is not int or d < 1:
        raise ValueError("saved n_features_in_ must be a positive int")
    cores = state.get("_cores")
    if type(cores) is not list or not cores or not all(isinstance(c, _cgan.Ganite) for c in cores):
        raise ValueError("saved _cores must be a non-empty list of GANITE cores")
    binary = state.get("outcome_type_") == "binary"
    if state.get("outcome_type_") not in ("binary", "continuous"):
        raise ValueError("saved outcome_type_ must be 'binary' or 'continuous'")
    for core in cores:
        cfg = core.config
        if cfg["n_features"] != d or cfg["n_treatments"] != K or bool(cfg["binary_outcome"]) != binary:
            raise ValueError("a saved core does not match n_features_in_, classes_ or outcome_type_")
    for key in ("_x_mean", "_x_scale"):
        check_array(state, key, 1, shape=(d,), finite=True)
    if not np.all(state["_x_scale"] > 0):
        raise ValueError("saved _x_scale must be positive")
    n = check_array(state, "_mu_fit", 2).shape[0]
    # predictions and propensities feed predict, ate and the AIPW intervals
    for key in ("_mu_fit", "propensity_fit_", "_mu_oof", "_propensity_unclipped"):
        check_array(state, key, 2, shape=(n, K), finite=True)
    for key in ("propensity_fit_", "_propensity_unclipped"):
        if not np.all((state[key] >= 0) & (state[key] <= 1)):
            raise ValueError(f"saved {key} must hold probabilities in [0, 1]")
    if not np.all(state["propensity_fit_"] > 0):
        raise ValueError("saved propensity_fit_ must be positive (it is clipped)")
    codes = check_array(state, "_codes_fit", 1, "iu")
    if codes.shape != (n,) or (n and not 0 <= codes.min() <= codes.max() < K):
        raise ValueError(f"saved _codes_fit must hold {n} treatment codes in [0, {K})")
    # binary fits from earlier builds kept integer outcomes, which load as floats
    if isinstance(state.get("_y_fit"), np.ndarray) and state["_y_fit"].dtype.kind in "iub":
        state["_y_fit"] = state["_y_fit"].astype(np.float64)
    check_array(state, "_y_fit", 1, shape=(n,), finite=True)
    if state.get("propensity_model_", "logistic") not in PROPENSITY_MODELS:
        raise ValueError(f"saved propensity_model_ must be one of {sorted(PROPENSITY_MODELS)}")
    # models saved before outcome_transform existed hold neither: 'none'
    if ("outcome_transform_" in state) != ("_smear" in state):
        raise ValueError("saved outcome_transform_ and _smear must come together")
    if "outcome_transform_" in state:
        if state["outcome_transform_"] not in ("none", "log") or (binary and state["outcome_transform_"] == "log"):
            raise ValueError("saved outcome_transform_ must be 'none', or 'log' for a continuous outcome")
        smear = check_array(state, "_smear", 1)
        if smear.shape != (K,) or not np.all(np.isfinite(smear)) or not np.all(smear > 0):
            raise ValueError(f"saved _smear must hold {K} positive finite factors")
        if state["outcome_transform_"] == "log" and not (np.all(state["_y_fit"] > 0) and
                                                         np.all(state["_mu_oof"] > 0)):
            raise ValueError("saved _y_fit and _mu_oof must be positive for outcome_transform_='log'")
    # models saved before the baseline existed hold none: zero lines
    if "_baseline" in state:
        coef = check_array(state, "_baseline", 3)
        if coef.shape != (len(cores), d + 1, K) or not np.all(np.isfinite(coef)):
            raise ValueError(f"saved _baseline must hold finite lines of shape ({len(cores)}, {d + 1}, {K})")
        if binary and np.any(coef):
            raise ValueError("saved _baseline must be zero for a binary outcome")
    # models saved before log links existed hold none: identity links
    if "baseline_link_" in state:
        links = check_array(state, "baseline_link_", 1, "U", shape=(K,))
        if not np.all(np.isin(links, ("identity", "log"))) or (binary and np.any(links == "log")):
            raise ValueError("saved baseline_link_ must hold 'identity' or 'log' per arm ('identity' for a binary "
                             "outcome)")
    # models saved before effect models existed hold none: the ensemble's own effects
    effect_keys = ("effect_model_", "_effect_coef", "_effect_splines")
    if any(key in state for key in effect_keys):
        if not all(key in state for key in effect_keys):
            raise ValueError("saved effect_model_, _effect_coef and _effect_splines must come together")
        model = state["effect_model_"]
        if model not in EFFECT_MODELS:
            raise ValueError(f"saved effect_model_ must be one of {list(EFFECT_MODELS)}")
        splines = check_array(state, "_effect_splines", 2, finite=True)
        if splines.shape[1:] != (3,) or not np.all((splines[:, 0] >= 0) & (splines[:, 0] < d)
                                                   & (splines[:, 0] == np.round(splines[:, 0]))
                                                   & (splines[:, 1] < splines[:, 2])):
            raise ValueError(f"saved _effect_splines must hold rows (column in [0, {d}), lo, hi) with lo < hi")
        width = {"plugin": 0, "constant": 0, "linear": d}.get(model, d + SPLINE_COLUMNS * len(splines))
        coef = check_array(state, "_effect_coef", 2, finite=True)
        if coef.shape != (K - 1, width + 1):
            raise ValueError(f"saved _effect_coef must have shape ({K - 1}, {width + 1}) for effect_model_={model!r}")
    # models saved before calibrated draws, or with one member, hold none
    draw_keys = ("draw_center_", "_score_fit", "_crps_fit")
    if any(key in state for key in draw_keys):
        if not all(key in state for key in draw_keys):
            raise ValueError("saved draw_center_, _score_fit and _crps_fit must come together")
        if state["draw_center_"] not in ("generator", "mean"):
            raise ValueError("saved draw_center_ must be 'generator' or 'mean'")
        for key in draw_keys[1:]:
            if not np.all(check_array(state, key, 1, shape=(n,), finite=True) >= 0):
                raise ValueError(f"saved {key} must hold non-negative scores")
    # models saved before each new row had its own conformal weight hold none
    weight_keys = ("_weight_coef", "_weight_fit")
    if any(key in state for key in weight_keys):
        if not all(key in state for key in weight_keys + draw_keys):
            raise ValueError("saved _weight_coef and _weight_fit must come together, with _score_fit")
        check_array(state, "_weight_coef", 2, shape=(d + 1, K), finite=True)
        weight = check_array(state, "_weight_fit", 2, shape=(n, K), finite=True)
        if not np.all((weight > 0) & (weight <= 1)):
            raise ValueError("saved _weight_fit must hold probabilities in (0, 1]")
    check_names_and_history(state, d)


def legacy_state(state):
    """A pickle from before the container held the cores as snapshots."""
    if "_core_snapshots" in state:
        state["_cores"] = [restore_core(_cgan.Ganite, s) for s in state.pop("_core_snapshots")]
    return state
