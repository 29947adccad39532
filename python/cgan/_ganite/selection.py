"""What a GANITE fit chooses on its training rows: the factual weight beta,
each arm's baseline link and the effect model.

Every choice is judged on the training rows alone, by cross-fitting: each
ensemble member is scored on the fold it did not train on.  baseline='auto'
gives an arm a log link where that predicts the arm's held-out rows better
(cgan._baseline.choose_links).  Of the factual weights of BETA_GRID, the
one whose members predict their held-out outcomes best supplies the outcome
model m(x) of the R-loss (cgan._effect_stage); with m and the propensities
held fixed, the parametric effect models and the networks' contrasts of
every factual weight compete by cross-fitted R-loss, and the lowest is
kept: the factual loss judges outcomes, the R-loss effects.
docs/design.md gives the reasons."""
from __future__ import annotations

import numpy as np

from .. import _baseline, _effect_stage
from .._scales import from_log

# The factual weights beta='auto' tries, each an inference block trained on
# the same counterfactual block (choose_effect picks among them).
BETA_GRID = (1.0, 3.0, 10.0, 30.0)
# What beta='auto' and effect_model='auto' mean for a binary outcome: the
# networks' contrasts at a fixed factual weight (binary_params)
BINARY_BETA = 10.0
# How effect_model='auto' picks among the candidates' cross-fitted R-losses
# (_effect_stage.pick): the lowest mean.
EFFECT_RULE = "min"


def betas(beta):
    """The factual weights to train for a checked `beta` ('auto' or a float)."""
    return BETA_GRID if isinstance(beta, str) else (beta,)


def binary_params(p, beta):
    """Checked parameters p for a binary outcome: beta='auto' takes
    BINARY_BETA and effect_model='auto' the networks' contrasts ('plugin').
    On 0/1 outcomes neither the held-out factual loss nor the R-loss tells
    the factual weights or the effect models apart beyond their noise, while
    a small weight shrinks the contrasts towards no effect
    (docs/design.md)."""
    p = dict(p)
    if isinstance(beta, str):
        p["betas"] = (BINARY_BETA,)
    if p["effect_model"] == "auto":
        p["effect_model"] = "plugin"
    return p


def baseline_links(p, X32, codes, y32, K, binary, transform, fold, stop):
    """The arms whose baseline takes a log link: with baseline='auto',
    on the outcome's own scale and with cross-fitting, the arms where
    it predicts the held-out rows better (_baseline.choose_links);
    otherwise none.  None once `stop` is set."""
    if (p["baseline"] != "auto" or binary or transform != "none" or p["n_estimators"] < 2
            or not _baseline.fits_baseline(X32.shape[1], K)):
        return ()
    return _baseline.choose_links(X32, codes, y32, fold, K, stop)


def held_out(results, b, X32, fold, K):
    """Each training row's potential outcomes (n, K) from the member, among
    `results` (train_fold_member's outputs), that did not train on it, for
    the b-th factual weight (every member's own rows when there is one
    member, fold None)."""
    mu = np.zeros((X32.shape[0], K))
    for member, result in enumerate(results):
        rows = np.flatnonzero(fold == member) if fold is not None else slice(None)
        mu[rows] = result[0][b].predict(X32[rows])
    return mu


def score_betas(results, X32, codes, y, y32, K, transform, fold):
    """For each factual weight of the members in `results`, (held-out
    squared error of the factual outcomes, b, held-out potential outcomes in
    the outcome's units, smearing factors), in the order trained; fold None
    for a single member.  A binary outcome is scored by its squared error
    (the Brier score) too."""
    n = len(codes)
    out = []
    for b in range(len(results[0][0])):
        mu_oof = held_out(results, b, X32, fold, K)
        smear = np.ones(K)
        if transform == "log":
            mu_oof, smear = from_log(mu_oof, y32, codes, K)
        out.append((float(np.mean((y - mu_oof[np.arange(n), codes]) ** 2)), b, mu_oof, smear))
    return out


def effect_options(p):
    """The effect models a fit with checked parameters p compares."""
    if p["effect_model"] != "auto":
        return (p["effect_model"],)
    return _effect_stage.EFFECT_MODELS if p["n_estimators"] > 1 else ("plugin",)


def choose_effect(p, X32, scored, chosen, propensity, codes, y, fold):
    """(index into `scored` of the members kept, effect model, coefficients
    (K - 1, width + 1), spline ranges), chosen by the cross-fitted R-loss.

    `scored` holds score_betas' (loss, b, held-out potential outcomes,
    smear) for each factual weight, and scored[chosen] is the one with the
    lowest held-out factual loss.  Its held-out outcomes give the R-loss
    its nuisance m(x) = sum_k e_k(x) mu_k(x), held fixed while the
    candidates compete: the parametric models of effect_options(p) fitted
    to that R-loss and, when 'plugin' is among the options, the contrasts
    of every factual weight's members.  The candidate with the lowest mean
    loss is kept; the members are those of its factual weight (the
    parametric models keep scored[chosen]'s)."""
    _, _, mu_f, _ = scored[chosen]
    K = mu_f.shape[1]
    options = effect_options(p)
    model, coef, splines, losses = _effect_stage.choose(X32, mu_f, propensity, codes, y, fold, options, EFFECT_RULE)
    pick = chosen
    if "plugin" in options and p["n_estimators"] > 1 and len(scored) > 1:
        residual, contrast = _effect_stage.r_terms(mu_f, propensity, codes, y)
        rival = {}
        for index, (_, _, mu_b, _) in enumerate(scored):
            if index != chosen:
                tau = mu_b[:, 1:] - mu_b[:, :1]
                rival[index] = (residual - np.sum(contrast * tau, axis=1)) ** 2
        names = {f"plugin/{index}": index for index in rival}
        best = _effect_stage.pick({**losses, **{name: rival[index] for name, index in names.items()}}, EFFECT_RULE)
        if best in names:
            model, coef, pick = "plugin", None, names[best]
    return pick, model, np.zeros((K - 1, 1)) if coef is None else coef, splines


def with_effects(mu, Z, state):
    """Potential outcomes mu (n, K) of rows Z moved so that their
    contrasts with arm 0 are the fitted effect model's effects (state
    holds effect_model_, _effect_coef, _effect_splines, _codes_fit and
    outcome_type_): arm k moves by delta_k, its effect minus the
    ensemble's, less the average move sum_j share_j delta_j (share_j
    the training rows' share of arm j), so that the arms' mean, weighted
    by their shares, is the ensemble's.  Probabilities stay in [0, 1].
    'plugin' (and models saved before effect models existed) leaves mu
    as it is."""
    model = state.get("effect_model_", "plugin")
    if model == "plugin":
        return mu
    K = mu.shape[1]
    F = _effect_stage.features(Z, model, state["_effect_splines"])
    delta = np.zeros_like(mu)
    delta[:, 1:] = _effect_stage.effects(F, state["_effect_coef"], K) - (mu[:, 1:] - mu[:, :1])
    share = np.bincount(state["_codes_fit"], minlength=K) / len(state["_codes_fit"])
    out = mu + delta - (delta @ share)[:, None]
    return np.clip(out, 0.0, 1.0) if state["outcome_type_"] == "binary" else out
