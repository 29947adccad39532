"""What a fitted SCIGAN holds, and the checks a loaded one must pass.

The persistence container (cgan._persist) asks SCIGAN for these through
BaseEstimator's protocol; nothing outside this package names SCIGAN's
private attributes."""
from __future__ import annotations

import numpy as np

from .. import _cgan
from .._persist import check_array, check_names_and_history
from .baseline import KNOTS, width

# The attributes a fit sets (feature_names_in_ only for named columns): a
# saved fitted model holds exactly these.
STATE_KEYS = (
    {"_cores", "_baseline", "_basis", "network_weight_", "_x_mean", "_x_scale", "classes_", "dose_range_", "n_features_in_", "history_", "_Z_fit",
     "_codes_fit", "_dose_fit", "_y_fit", "_mu_oof"},
    {"feature_names_in_"},
)
# parameters added after the format was first written (none yet)
ADDED_PARAMS: dict = {}


def check_state(state):
    """Raise ValueError unless `state` (holding exactly STATE_KEYS' keys) is
    a consistent fitted SCIGAN."""
    classes = state.get("classes_")
    if classes is not None and (not isinstance(classes, np.ndarray) or classes.ndim != 1
                                or not 1 <= len(classes) <= 1024):
        raise ValueError("saved classes_ must be None or a 1-d array of 1 to 1024 labels")
    K = 1 if classes is None else len(classes)
    d = state.get("n_features_in_")
    if type(d) is not int or d < 1:
        raise ValueError("saved n_features_in_ must be a positive int")
    cores = state.get("_cores")
    if type(cores) is not list or not cores or not all(isinstance(c, _cgan.Scigan) for c in cores):
        raise ValueError("saved _cores must be a non-empty list of SCIGAN cores")
    for core in cores:
        cfg = core.config
        if cfg["n_features"] != d or cfg["n_treatments"] != K:
            raise ValueError("a saved core does not match n_features_in_ or classes_")
    basis = check_array(state, "_basis", 2, "iu", shape=(len(cores), 2))
    coefs = state.get("_baseline")
    if type(coefs) is not list or len(coefs) != len(cores):
        raise ValueError("saved _baseline must be a list of one baseline per core")
    for (knots, varying), coef in zip(basis, coefs):
        if knots not in KNOTS or varying not in (0, 1):
            raise ValueError(f"saved _basis must hold a knot count of {KNOTS} and a 0/1 flag")
        p = width(d, int(knots), bool(varying))
        if not isinstance(coef, np.ndarray) or coef.shape != (p + 1, K) or not np.all(np.isfinite(coef)):
            raise ValueError(f"saved _baseline entries must be finite arrays of shape ({p + 1}, {K})")
    weight = state.get("network_weight_")
    if type(weight) is not float or not 0.0 <= weight <= 1.0:
        raise ValueError("saved network_weight_ must be a float in [0, 1]")
    for key in ("_x_mean", "_x_scale"):
        check_array(state, key, 1, shape=(d,), finite=True)
    if not np.all(state["_x_scale"] > 0):
        raise ValueError("saved _x_scale must be positive")
    ranges = check_array(state, "dose_range_", 2, shape=(K, 2), finite=True)
    if not np.all((ranges[:, 0] >= 0) & (ranges[:, 0] <= ranges[:, 1])):
        raise ValueError("saved dose_range_ must hold non-negative ranges [lo, hi] with lo <= hi")
    Z = check_array(state, "_Z_fit", 2, finite=True)
    n = Z.shape[0]
    if Z.shape[1] != d or n < 1:
        raise ValueError(f"saved _Z_fit must have {d} columns and at least one row")
    codes = check_array(state, "_codes_fit", 1, "iu")
    if codes.shape != (n,) or not 0 <= codes.min() <= codes.max() < K:
        raise ValueError(f"saved _codes_fit must hold {n} treatment codes in [0, {K})")
    for key in ("_dose_fit", "_y_fit", "_mu_oof"):
        check_array(state, key, 1, shape=(n,), finite=True)
    doses = state["_dose_fit"]
    if not np.all((doses >= ranges[codes, 0]) & (doses <= ranges[codes, 1])):
        raise ValueError("saved _dose_fit must lie in each treatment's dose_range_")
    check_names_and_history(state, d)


def legacy_state(state):
    """A pickle from before the container: SCIGAN has none."""
    raise ValueError("SCIGAN models are saved only in the cgan container")
