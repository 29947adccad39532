"""cgan.GANITE: individual and average treatment effects with GANITE.

GANITE (Yoon, Jordon & van der Schaar, 2018) trains a counterfactual
generator G against a discriminator D that tries to tell the factual outcome
among the K potential outcomes, then fits an inference network I(x) to G's
completed outcome vectors.  The training loops run in cgan's C core; this
module validates input, trains the ensemble (members.py) and exposes the
EconML-style API; inference.py holds the effect intervals and state.py what
a fitted model saves."""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _cgan, _effect_stage, _memory, _persist, _plots
from .._base import BaseEstimator, reads, writes
from .._inference import stratified_folds
from .._persist import register_estimator
from .._progress import Progress
from .._propensity import (
    OVERLAP_THRESHOLD,
    OVERLAP_WARN_SHARE,
    PROPENSITY_CLIP,
    clip_propensity,
    overlap_summary,
    propensity_unclipped,
)
from .._scales import candidate_transforms, column_scale, smearing, standardize
from .._threads import Stop, effective_jobs, map_threads
from .._validation import (
    LIMITS,
    check_choice,
    check_float,
    check_int,
    check_jobs,
    check_outcome,
    check_random_state,
    check_treatment,
    check_verbose,
    check_X,
    encode_treatment,
    feature_names,
    treatment_code,
)
from . import distribution as _distribution
from . import selection
from . import state as _state
from .inference import EffectInference
from .members import Member, check_memory, ensemble_mean, outcome_mean, train_fold_member

if TYPE_CHECKING:
    import matplotlib.axes
    import pandas
    from numpy.typing import ArrayLike

_persist.register_core("ganite_core", _cgan.Ganite)

# the factual weights beta='auto' tries (selection.BETA_GRID)
BETA_GRID = selection.BETA_GRID


def _covariates(X, W):
    """(argument name, covariates) from fit's X and W, of which exactly one
    must be given: GANITE has no separate controls."""
    if X is not None and W is not None:
        raise ValueError(
            "GANITE conditions on every covariate and has no separate controls W: pass the covariates as X or "
            "as W, not both (join them into one X, e.g. with numpy.hstack or pandas.concat(axis=1))"
        )
    if X is None and W is None:
        raise TypeError("X is required; got None (fit needs the covariates, as X or as W, EconML's name for controls)")
    return ("X", X) if X is not None else ("W", W)


def _check_threshold(threshold):
    thr = check_float(threshold, "threshold", 0.0, 0.5, low_open=True)
    if thr >= 0.5:
        raise ValueError(f"threshold must lie in (0, 0.5), got {threshold}")
    return thr


@register_estimator
class GANITE(_distribution.DistributionMixin, EffectInference, BaseEstimator):
    """Treatment effects with generative adversarial nets (GANITE).

    A counterfactual generator completes each unit's vector of potential
    outcomes against a discriminator that tries to tell the factual entry,
    and an inference network learns the completed vectors from the
    covariates (Yoon, Jordon & van der Schaar, 2018).  Any number of arms
    with any labels, continuous or binary outcomes.  Method names and
    shapes follow EconML's CATE estimators, so DoWhy's EconML wrapper can
    drive it.  docs/design.md explains the ensemble, the baseline and how
    the defaults were chosen.

    Parameters
    ----------
    hidden_size : int, default=128
        Width of each hidden layer of the generator, discriminator and
        inference networks.
    n_hidden : int, default=2
        Hidden layers per network.
    n_estimators : int, default=5
        GANITE models, each with its own seed, whose predictions are
        averaged.  With two or more, member m trains on all folds of the
        rows but fold m (folds balanced by arm), which gives the
        cross-fitted predictions that :meth:`ate_interval` and
        :attr:`oof_score_` use.
    batch_size : int, default=256
        Rows per minibatch; must not exceed the rows each member trains on.
    n_iter : int, default=250
        Iterations of the counterfactual block (each has ``d_steps``
        discriminator steps and one generator step).  Larger data sets want
        more; compare settings by :attr:`oof_score_`.
    n_iter_ite : int or None, default=None
        Iterations of the inference block; None uses ``n_iter``.
    d_steps : int, default=2
        Discriminator steps per generator step.
    alpha : float, default=1.0
        Weight of the adversarial term in the generator loss
        (supervised loss - alpha * discriminator loss); 0 trains G without
        the discriminator.
    beta : float or 'auto', default='auto'
        Weight of the factual entry in the inference network's loss; each
        counterfactual entry (G's completion) has weight 1 (the GANITE
        paper's weighting is 1).  'auto' trains one inference network per
        value of (1, 3, 10, 30) on each member's counterfactual network.
        The value whose members predict the outcomes of their held-out
        rows best supplies the outcome model of the effect stage's R-loss
        (see ``effect_model``); when the networks' own effects win there,
        the value whose members' effects have the lowest cross-fitted
        R-loss is kept, otherwise the best predictor (with n_estimators=1,
        the value that predicts the training rows best).  A binary outcome
        takes 10.  ``beta_`` reports the value.
    learning_rate : float, default=1e-3
        Adam step size for all three networks.  Predictions use an
        exponential moving average of the inference network's weights.
    weight_decay : float, default=0.1
        Decoupled (AdamW) weight decay; ``learning_rate * weight_decay``
        must be at most 1.
    noise_dim : int, default=0
        Dimensions of the generator's Gaussian noise.  0 gives a
        deterministic generator; a positive value makes :meth:`sample` draw
        varied counterfactuals.
    crps_weight : float, default=0.0
        Weight of the continuous ranked probability score (CRPS) of the
        generator's draws of the factual outcome, two draws per unit.  0
        keeps GANITE's generator, which completes a unit's outcomes from
        its observed arm and outcome.  A positive value gives a generator
        that draws every arm's outcome from the covariates and its noise
        alone, trained by this score beside the discriminator, so that
        :meth:`sample`, :meth:`predict_quantiles` and the other
        distributional methods draw from each arm's conditional
        distribution; it needs ``noise_dim >= 1`` and a continuous
        outcome.  Compare settings by :attr:`oof_crps_`.
    outcome : {'auto', 'continuous', 'binary'}, default='auto'
        'auto' treats an outcome holding only 0 and 1 as binary.
    outcome_transform : {'auto', 'none', 'log'}, default='auto'
        The scale the networks learn a continuous outcome on.  'log' fits
        log(Y) (every Y positive) and maps predictions back with Duan's
        smearing factor per arm, so they estimate E[Y | x].  'auto' fits
        both when every Y is positive and keeps the scale with the lower
        cross-fitted squared error (needs n_estimators >= 2); otherwise it
        means 'none'.
    baseline : {'auto', 'linear', 'none'}, default='auto'
        'linear' fits each arm's ridge regression of the outcome on the
        covariates (penalty by generalised cross-validation) and trains
        the networks on what the regressions leave, so that effects
        extrapolate along them.  'auto' does the same, and gives an arm a
        log link (the exponential of a linear predictor) where that
        predicts the arm's held-out rows better (continuous outcomes on
        their own scale, n_estimators >= 2).  Binary outcomes, and data
        whose Gram matrices would pass 64 MiB (about 2,000 covariates with
        two arms), take none.
    effect_model : {'auto', 'constant', 'linear', 'additive', 'plugin'}, default='auto'
        How the effects are formed from the fitted networks.  'plugin'
        takes the difference of the ensemble's potential outcomes.  The
        others fit the effects against arm 0 to the R-loss (Nie and
        Wager's R-learner) of the cross-fitted potential outcomes and
        propensities: a constant per arm, linear in the covariates, or
        linear plus cubic splines of each continuous covariate (ridge,
        penalty by generalised cross-validation); the potential outcomes
        are then shifted to match these effects, keeping the arms'
        share-weighted mean.  'auto' keeps the candidate with the lowest
        cross-fitted R-loss, with beta='auto' the networks' contrasts of
        every factual weight competing as 'plugin' candidates ('plugin'
        for a binary outcome or when n_estimators is 1); the others need
        n_estimators >= 2.
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
        Columns of the covariates seen in :meth:`fit`.
    feature_names_in_ : ndarray of str
        Their names; present when the covariates were a DataFrame.
    outcome_type_ : str
        'continuous' or 'binary'.
    history_ : dict of ndarray
        'generator_loss', 'discriminator_loss' and 'ite_loss', each of shape
        (n_estimators, iterations).
    propensity_fit_ : ndarray of shape (n, K)
        The training rows' propensities, cross-fitted, clipped at 0.01 and
        renormalised; AIPW uses them.
    outcome_transform_ : {'none', 'log'}
        The outcome scale the fitted networks use.
    propensity_model_ : str
        The propensity model with the lowest cross-fitted log-loss:
        'logistic' (multinomial logistic regression), 'additive' (the same
        on cubic B-splines of each continuous covariate), 'additive-rank'
        (on splines of their ranks), 'mlp-short' or 'mlp-long' (one ReLU
        layer of 32 units); 'logistic' when n_estimators is 1.
    baseline_link_ : ndarray of str of shape (K,)
        Each arm's baseline link, 'identity' or 'log'.
    effect_model_ : str
        The effect model in use (see ``effect_model``).
    draw_center_ : {'generator', 'mean'}
        How the distributional methods use the generator's draws: as
        drawn, or shifted so that each row's draws average to
        :meth:`predict`'s outcomes; the one whose cross-fitted CRPS of the
        training rows is lower.  Set for continuous outcomes with
        ``n_estimators >= 2``.

    See Also
    --------
    cgan.fit : fit in one call.
    cgan.CausalWGAN : synthetic data with known effects, to test estimators.

    Examples
    --------
    >>> from cgan import GANITE
    >>> from cgan.datasets import load_ihdp
    >>> data = load_ihdp()
    >>> model = GANITE(n_iter=50, random_state=0).fit(data.Y, data.T, X=data.X)
    >>> model.predict(data.X[:3]).shape
    (3, 2)
    >>> model.effect(data.X[:3]).shape
    (3,)
    >>> lo, hi = model.ate_interval()
    >>> bool(lo < hi)
    True
    """

    def __init__(
        self,
        *,
        hidden_size: int = 128,
        n_hidden: int = 2,
        n_estimators: int = 5,
        batch_size: int = 256,
        n_iter: int = 250,
        n_iter_ite: int | None = None,
        d_steps: int = 2,
        alpha: float = 1.0,
        beta: float | str = "auto",
        learning_rate: float = 1e-3,
        weight_decay: float = 0.1,
        noise_dim: int = 0,
        crps_weight: float = 0.0,
        outcome: str = "auto",
        outcome_transform: str = "auto",
        baseline: str = "auto",
        effect_model: str = "auto",
        random_state: int | np.random.Generator | None = None,
        n_jobs: int | None = None,
        verbose: bool = False,
    ) -> None:
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
        self.crps_weight = crps_weight
        self.outcome = outcome
        self.outcome_transform = outcome_transform
        self.baseline = baseline
        self.effect_model = effect_model
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _check_params(self):
        p = {
            "hidden_size": check_int(self.hidden_size, "hidden_size", 1, LIMITS["hidden_size"]),
            "n_hidden": check_int(self.n_hidden, "n_hidden", 1, LIMITS["n_hidden"]),
            "n_estimators": check_int(self.n_estimators, "n_estimators", 1, 1000),
            "batch_size": check_int(self.batch_size, "batch_size", 1, LIMITS["batch_size"]),
            "n_iter": check_int(self.n_iter, "n_iter", 0, LIMITS["n_iter"]),
            "n_iter_ite": check_int(self.n_iter if self.n_iter_ite is None else self.n_iter_ite,
                                    "n_iter_ite", 0, LIMITS["n_iter"]),
            "d_steps": check_int(self.d_steps, "d_steps", 1, LIMITS["d_steps"]),
            "alpha": check_float(self.alpha, "alpha", 0.0),
            "learning_rate": check_float(self.learning_rate, "learning_rate", 0.0, 10.0, low_open=True),
            "weight_decay": check_float(self.weight_decay, "weight_decay", 0.0, 1e3),
            "noise_dim": check_int(self.noise_dim, "noise_dim", 0, LIMITS["noise_dim"]),
            "crps_weight": check_float(self.crps_weight, "crps_weight", 0.0, 1e6),
        }
        if p["crps_weight"] > 0 and p["noise_dim"] < 1:
            raise ValueError(f"crps_weight={p['crps_weight']:g} trains a generator that draws from its noise, which "
                             f"needs noise_dim >= 1; got noise_dim={p['noise_dim']}")
        check_choice(self.outcome, "outcome", ("auto", "continuous", "binary"))
        p["outcome_transform"] = check_choice(self.outcome_transform, "outcome_transform", ("auto", "none", "log"))
        p["baseline"] = check_choice(self.baseline, "baseline", ("auto", "linear", "none"))
        p["effect_model"] = check_choice(self.effect_model, "effect_model", ("auto",) + _effect_stage.EFFECT_MODELS)
        if p["effect_model"] not in ("auto", "plugin") and p["n_estimators"] < 2:
            raise ValueError(f"effect_model={p['effect_model']!r} is fitted to cross-fitted predictions, which need "
                             f"n_estimators >= 2; got n_estimators={p['n_estimators']}")
        if isinstance(self.beta, str):
            p["betas"] = selection.betas(check_choice(self.beta, "beta", ("auto",)))
        else:
            p["betas"] = selection.betas(check_float(self.beta, "beta", 0.0))
        p["log_arms"] = ()
        if p["learning_rate"] * p["weight_decay"] > 1:
            # AdamW multiplies every weight by 1 - learning_rate * weight_decay per step: below -1 the
            # weights grow geometrically and training overflows within a few steps
            raise ValueError(f"learning_rate * weight_decay must be at most 1, got {p['learning_rate']:g} * "
                             f"{p['weight_decay']:g}; lower one of them")
        check_jobs(self.n_jobs)
        check_verbose(self.verbose)
        return p

    @writes
    def fit(self, Y: ArrayLike, T: ArrayLike, *, X: ArrayLike | pandas.DataFrame | None = None,
            W: ArrayLike | pandas.DataFrame | None = None) -> GANITE:
        """Fit the counterfactual and inference blocks.

        Parameters
        ----------
        Y : array-like of shape (n,)
            Observed outcomes.
        T : array-like of shape (n,)
            Treatment received: any labels (numbers, strings, booleans);
            at least two distinct values.
        X : array-like or DataFrame of shape (n, d), optional
            Covariates (required unless they are given as W).
        W : array-like or DataFrame of shape (n, d), optional
            The covariates under EconML's name for controls, so that callers
            that pass confounders as ``W`` (DoWhy's EconML wrapper does)
            work unchanged.  GANITE conditions on every covariate and draws
            no line between effect modifiers and controls, so W is another
            way to give X: pass one of them, not both.  Methods that take
            new rows (:meth:`predict`, :meth:`effect`, ...) then take the
            same columns as their ``X``.

        Returns
        -------
        self : GANITE
            The fitted estimator.

        Raises
        ------
        TypeError
            If neither X nor W is given, or an argument has the wrong type
            (non-numeric columns, labels that cannot be ordered).
        ValueError
            If both X and W are given; if the arrays disagree in length,
            hold NaN or inf, T has fewer than two arms, or ``batch_size``
            exceeds the rows each ensemble member trains on; if
            ``outcome_transform='log'`` meets a binary Y or a Y that is not
            positive; or if a parameter set in ``__init__`` is out of range.

        Warns
        -----
        UserWarning
            When more than 5% of the rows have an estimated propensity
            below 0.01 or above 0.99 for some arm (see
            :meth:`overlap_report`).
        """
        p = self._check_params()
        name, X = _covariates(X, W)
        Xa = check_X(X, name)
        n, d = Xa.shape
        classes, codes = check_treatment(T, n)
        y, binary = check_outcome(Y, self.outcome, n)
        if binary and p["crps_weight"] > 0:
            raise ValueError("crps_weight > 0 draws a continuous outcome's distribution; a binary outcome's is its "
                             "probability: fit it with crps_weight=0")
        if binary:
            p = selection.binary_params(p, self.beta)
        if p["batch_size"] > n:
            raise ValueError(f"batch_size={p['batch_size']} is larger than the {n} training rows; lower batch_size")
        seed = check_random_state(self.random_state)
        K = len(classes)
        M = p["n_estimators"]
        seeds = np.random.SeedSequence(seed).generate_state(M + 1, np.uint64)
        fold = stratified_folds(codes, M, int(seeds[M]))
        for m in range(M if M > 1 else 0):
            if np.count_nonzero(fold != m) < p["batch_size"]:
                raise ValueError(
                    f"batch_size={p['batch_size']} is larger than the {np.count_nonzero(fold != m)} rows each "
                    f"ensemble member trains on; lower batch_size or n_estimators"
                )
        transforms = candidate_transforms(p["outcome_transform"], y, binary, M)
        # every member is kept (a core per beta, and two scales' members
        # while they compete), with one standardised float32 copy of the
        # covariates they share
        _memory.check(4 * n * d, f"GANITE.fit on X of {n} rows and {d} columns", "pass fewer rows or columns")
        check_memory(p, d, K, binary, n, M * len(transforms), "GANITE.fit")
        # networks train poorly on features of very different scales
        x_mean, x_scale = column_scale(Xa)
        X32 = standardize(Xa, x_mean, x_scale)
        steps = p["n_iter"] + len(p["betas"]) * p["n_iter_ite"]
        bar = Progress(len(transforms) * M * steps, "GANITE", bool(self.verbose))
        stop = Stop()
        n_jobs = effective_jobs(self.n_jobs, M)
        best = None
        try:
            for transform in transforms:
                y32 = np.ascontiguousarray(np.log(y) if transform == "log" else y, dtype=np.float32)
                links = selection.baseline_links(p, X32, codes, y32, K, binary, transform, fold, stop)
                if links is None:  # stopped
                    return self
                p_scale = dict(p, log_arms=links)

                # Members are independent and release the GIL, so threads
                # run them in parallel; each owns its RNG, so results do not
                # depend on n_jobs.
                shared = (p_scale, X32, codes, y32, K, binary, seeds, fold if M > 1 else None, stop, bar)
                results = map_threads(train_fold_member, M, n_jobs, stop, shared=shared)
                # each beta's members, scored on the rows they did not see
                scored = selection.score_betas(results, X32, codes, y, y32, K, transform,
                                               fold if M > 1 else None)
                for index, (loss, _, _, _) in enumerate(scored):
                    if best is None or loss < best[0]:
                        best = (loss, transform, results, scored, index, y32, links)
        finally:
            bar.close()
        _, transform, results, scored, index, y32, links = best
        raw, propensity_model = propensity_unclipped(X32, codes, K, fold if M > 1 else None, seed)
        # the effect model, and the factual weight whose members are kept
        b, effect_model, effect_coef, splines = selection.choose_effect(p, X32, scored, index, clip_propensity(raw),
                                                                       codes, y, fold)
        _, _, mu_oof, smear = scored[b]
        history = {
            "generator_loss": [r[1] for r in results],
            "discriminator_loss": [r[2] for r in results],
            "ite_loss": [r[3][b] for r in results],
        }
        members = [r[0][b] for r in results]
        # the fitted state, in the order files have always listed it, made
        # the model's at once: no reader sees a fit half published
        link_names = np.array(["log" if k in links else "identity" for k in range(K)])
        state = {"_cores": [m.core for m in members], "_baseline": np.stack([m.coef for m in members]),
                 "baseline_link_": link_names,
                 "outcome_transform_": transform, "_smear": smear, "_x_mean": x_mean, "_x_scale": x_scale,
                 "classes_": classes, "n_features_in_": d}
        names = feature_names(X)
        if names is not None:
            state["feature_names_in_"] = names
        state.update({
            "outcome_type_": "binary" if binary else "continuous",
            "history_": {k: np.stack(v) for k, v in history.items()},
            "effect_model_": effect_model,
            "_effect_coef": effect_coef,
            "_effect_splines": splines,
            "_mu_fit": None,  # set below, from the state above
            "propensity_model_": propensity_model,
            "propensity_fit_": clip_propensity(raw),
            "_propensity_unclipped": raw,
            "_mu_oof": mu_oof,
            "_codes_fit": codes,
            "_y_fit": np.asarray(y, dtype=np.float64),
            # the bootstrap refits on resamples of these rows; kept in memory
            # only (_transient_attributes keeps it out of saves and pickles)
            "_fit_data": (X32, codes, y32),
        })
        log = transform == "log"
        anchors = None if p["crps_weight"] > 0 or binary else _distribution.anchor_pools(y, mu_oof, smear, codes, K, log)
        if not binary:
            state.update(_distribution.calibration_state(members, X32, codes, y, fold, seed, anchors, log,
                                                                  mu_oof))
        state["_mu_fit"] = self._with_effects(ensemble_mean(members, X32, smear if transform == "log" else None),
                                              X32, state)
        self._publish(state, drop=() if names is not None else ("feature_names_in_",))
        _, share = overlap_summary(raw, codes, classes, OVERLAP_THRESHOLD)
        if share > OVERLAP_WARN_SHARE:
            warnings.warn(
                f"{100 * share:.1f}% of the training rows have an estimated propensity below "
                f"{OVERLAP_THRESHOLD:g} or above {1 - OVERLAP_THRESHOLD:g} for some arm: the arms overlap "
                f"poorly, so effects there rest on extrapolation and AIPW weights on the clip at "
                f"{PROPENSITY_CLIP:g}. See overlap_report() and plot_overlap().",
                UserWarning,
                stacklevel=2,
            )
        return self

    def _refit_params(self):
        """Checked parameters for refitting members as the fit did (the
        bootstrap): its beta and its baseline links, not chosen again."""
        p = self._check_params()
        p["betas"] = (self.beta_,)
        p["log_arms"] = self._log_arms()
        return p

    @property
    def beta_(self) -> float:
        """The factual weight of the fitted inference networks.

        ``beta``, or with ``beta='auto'`` the value of the grid chosen by
        the fit (see the ``beta`` parameter)."""
        self._check_is_fitted()
        return float(self._cores[0].config["beta"])

    def _log_arms(self):
        """The arm codes whose baseline has a log link (none in models saved
        before links existed)."""
        links = getattr(self, "baseline_link_", None)
        return () if links is None else tuple(int(k) for k in np.flatnonzero(links == "log"))

    def _members(self):
        """The ensemble as Members: each core with its baseline (none in
        models saved before the baseline existed)."""
        coefs = getattr(self, "_baseline", None)
        if coefs is None:
            coefs = np.zeros((len(self._cores), self.n_features_in_ + 1, len(self.classes_)))
        log_arms = self._log_arms()
        return [Member(core, coef, log_arms) for core, coef in zip(self._cores, coefs)]

    def _predict_array(self, Z):
        """The potential outcomes for standardised rows Z: the ensemble mean,
        with the effect model's effects."""
        mu = ensemble_mean(self._members(), Z, self._smear if self._log_scale() else None)
        return self._with_effects(mu, Z, self.__dict__)

    # the effect model's contrasts put on the ensemble's outcomes (selection.with_effects)
    _with_effects = staticmethod(selection.with_effects)

    def _member_predict(self, member, Z, smear=None):
        """One member's expected potential outcomes for rows Z, float64, in
        the outcome's units (back from the log scale when fitted on it,
        with the model's smearing factors unless `smear` is given)."""
        if not self._log_scale():
            return outcome_mean(member, Z, None)
        return outcome_mean(member, Z, self._smear if smear is None else smear)

    def _log_scale(self):
        # models saved before outcome_transform existed were fitted on Y
        return getattr(self, "outcome_transform_", "none") == "log"

    def _to_model_scale(self, y):
        """Observed outcomes y on the scale the networks were fitted on."""
        if not self._log_scale():
            return y
        if not np.all(y > 0):
            raise ValueError(f"Y must be positive for a model fitted on log(Y) (outcome_transform_='log'); "
                             f"the smallest is {y.min():g}")
        return np.log(y)

    def _replicate_smear(self, member, Z, codes, y_model, sample):
        """Smearing factors of a bootstrap replicate's member: Duan's per-arm
        mean of exp(residual) on the rows its resample left out (the
        model's own factor for an arm with none); None off the log scale."""
        if not self._log_scale():
            return None
        out = np.ones(len(codes), dtype=bool)
        out[sample] = False
        held = np.flatnonzero(out)
        if not held.size:
            return self._smear.copy()
        pred = member.predict(Z[held])[np.arange(held.size), codes[held]]
        return smearing(np.asarray(y_model)[held], pred, codes[held], self._smear)

    def _checked_X(self, X):
        """X validated against the fit and standardised as in fit."""
        self._check_is_fitted()
        Xa = check_X(X, "X", self.n_features_in_)
        names = feature_names(X)
        fitted = getattr(self, "feature_names_in_", None)
        if names is not None and fitted is not None and list(names) != list(fitted):
            raise ValueError("X's columns differ from those seen in fit (names or order)")
        n, K = Xa.shape[0], len(self.classes_)
        # standardised rows, and a few (n, K) arrays of predictions and lines
        _memory.check(4 * Xa.size + 6 * 8 * n * K, f"GANITE on the {n} rows of X",
                      "pass X in smaller batches of rows")
        return standardize(Xa, self._x_mean, self._x_scale)

    @reads
    def predict(self, X: ArrayLike | pandas.DataFrame | None = None) -> np.ndarray:
        """Potential outcomes under every arm, shape (n, K).

        The ensemble's mean prediction; for a binary outcome, probabilities.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n, d), optional
            Rows to predict, with the columns seen in :meth:`fit`; None
            gives the training rows.

        Returns
        -------
        ndarray of shape (n, K)
            Column k is the outcome under arm ``classes_[k]``.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If X is not numeric.
        ValueError
            If X does not have the fitted number of columns (or, as a
            DataFrame, their names and order), or holds NaN or inf, or
            the baseline's lines overflow on it.
        """
        if X is None:
            self._check_is_fitted()
            return self._mu_fit.copy()
        Z = self._checked_X(X)
        return self._predict_array(Z)

    @reads
    def score(self, Y: ArrayLike, T: ArrayLike, *, X: ArrayLike | pandas.DataFrame) -> float:
        """Score the prediction of held-out rows' factual outcomes; higher is better.

        Only the outcome under the received arm is ever observed, so this
        scores that arm's prediction: the negative mean squared error for a
        continuous outcome, the negative mean log-loss (probabilities
        clipped to [1e-7, 1 - 1e-7]) for a binary one.  It does not measure
        the error of the effects themselves, which no held-out data can.

        Parameters
        ----------
        Y : array-like of shape (n,)
            Observed outcomes.
        T : array-like of shape (n,)
            Treatments received, among ``classes_``.
        X : array-like or DataFrame of shape (n, d)
            Covariates.

        Returns
        -------
        float
            Negative mean squared error, or negative mean log-loss.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If an argument is not numeric (T may hold any labels).
        ValueError
            If X does not match the fit, T holds a label not seen in fit,
            or the lengths differ, or Y is not 0/1 for a binary outcome.
        """
        Z = self._checked_X(X)
        n = Z.shape[0]
        codes = encode_treatment(T, self.classes_, "T", n)
        y, _ = check_outcome(Y, self.outcome_type_, n)
        return self._factual_score(self._predict_array(Z), codes, y)

    def _factual_score(self, mu, codes, y):
        """score's formula for predictions mu (n, K) of rows that received codes."""
        factual = mu[np.arange(len(codes)), codes]
        if self.outcome_type_ == "binary":
            p = np.clip(factual, 1e-7, 1 - 1e-7)
            return float(np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))
        return float(-np.mean((y - factual) ** 2))

    @property
    @reads
    def oof_score_(self) -> float:
        """Cross-fitted :meth:`score` of the training rows; higher is better.

        Each training row is predicted by the ensemble member that did not
        train on it, and the factual predictions are scored as in
        :meth:`score` (negative MSE, or negative log-loss for a binary
        outcome).  These are single members, each trained on (M - 1) / M of
        the rows, so the full ensemble usually scores a little better on
        new rows.  Like scikit-learn's ``oob_score_``, it measures
        generalisation without a separate validation set, so it can compare
        settings such as ``n_iter`` on the training data alone; cgan's own
        defaults were chosen this way.  Like :meth:`score`, it judges only
        the factual outcomes, not the effects.

        Raises
        ------
        AttributeError
            If the model is not fitted, or was fitted with
            ``n_estimators=1`` (no member is held out from any row).
        """
        if not hasattr(self, "classes_"):
            raise AttributeError(f"this {type(self).__name__} is not fitted yet; call fit first")
        if not hasattr(self, "_mu_oof"):
            raise AttributeError("oof_score_ needs the cross-fitted predictions, which models pickled by cgan "
                                 "versions before them do not hold; refit the model")
        if len(self._cores) < 2:
            raise AttributeError("oof_score_ needs cross-fitting: fit with n_estimators >= 2 "
                                 "(this model has a single member, which saw every row)")
        return self._factual_score(self._mu_oof, self._codes_fit, self._y_fit)

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

    @reads
    def effect(self, X: ArrayLike | pandas.DataFrame | None = None, T0: Any = None, T1: Any = None) -> np.ndarray:
        """Individual effects mu_T1(x) - mu_T0(x), shape (n,).

        EconML's ``effect(X, T0=..., T1=...)``: with a one-dimensional
        outcome the result is a vector.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n, d), optional
            Rows to evaluate, with the columns seen in :meth:`fit`; None
            gives the training rows.
        T0 : treatment label, optional
            The baseline arm; defaults to ``classes_[0]``.
        T1 : treatment label, optional
            The arm compared with it; defaults to ``classes_[1]`` (required
            when there are more than two arms).

        Returns
        -------
        ndarray of shape (n,)
            The difference of the predicted outcomes under T1 and T0
            (probabilities for a binary outcome).

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If X is not numeric.
        ValueError
            If T0 or T1 is not a fitted arm, T1 is missing with more than
            two arms, or X does not match the fit.

        See Also
        --------
        effect_interval : bootstrap intervals for these effects.
        const_marginal_effect : every arm against the first at once.
        """
        self._check_is_fitted()
        t0, t1 = self._arms(T0, T1)
        mu = self.predict(X)
        return mu[:, t1] - mu[:, t0]

    @reads
    def const_marginal_effect(self, X: ArrayLike | pandas.DataFrame | None = None) -> np.ndarray:
        """Effects of every arm against the first, shape (n, K - 1).

        EconML's layout for a discrete treatment: column j is ``effect(X, T0=classes_[0], T1=classes_[j + 1])``, so the
        shape is (n, K - 1), as EconML's ``const_marginal_effect`` gives for
        a discrete treatment with K arms and a one-dimensional outcome (the
        arm dimension is kept even when K is 2).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n, d), optional
            Rows to evaluate, with the columns seen in :meth:`fit`; None
            gives the training rows.

        Returns
        -------
        ndarray of shape (n, K - 1)
            Column j holds mu_{classes_[j + 1]}(x) - mu_{classes_[0]}(x).

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If X is not numeric.
        ValueError
            If X does not have the fitted number of columns (or names), or
            holds NaN or inf.

        See Also
        --------
        effect : one contrast, shape (n,).
        """
        mu = self.predict(X)
        return mu[:, 1:] - mu[:, :1]

    @reads
    def overlap_report(self, threshold: float = OVERLAP_THRESHOLD) -> pandas.DataFrame | dict[str, Any]:
        """Summarise the training rows' estimated propensities, arm by arm.

        Row k summarises P(T = classes_[k] | x) over all training rows, as
        cross-fitted by :meth:`fit` and before clipping: ``n_received`` (rows
        that received arm k), ``min``, the 5%, 25%, 50%, 75% and 95%
        quantiles, ``max``, and ``share_extreme``, the share of rows whose
        propensity for arm k is below ``threshold`` or above
        1 - threshold.  With two arms both rows give the same share.
        The share of rows extreme for any arm (what :meth:`fit` warns on
        when it exceeds 5% at threshold 0.01) is ``attrs['share_extreme_any']``.

        Parameters
        ----------
        threshold : float in (0, 0.5), default=0.01
            Propensities below it or above 1 - threshold count as extreme.

        Returns
        -------
        pandas.DataFrame or dict
            A DataFrame indexed by arm when pandas is installed; otherwise
            a dict of arrays (one entry per arm, with the labels under
            'arm') plus the float 'share_extreme_any'.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If threshold is not a real number.
        ValueError
            If threshold is outside (0, 0.5).

        See Also
        --------
        plot_overlap : the same propensities as histograms.
        """
        self._check_is_fitted()
        thr = _check_threshold(threshold)
        table, share = overlap_summary(self._propensity_unclipped, self._codes_fit, self.classes_, thr)
        try:
            import pandas as pd
        except ImportError:  # a dict of arrays instead
            table["share_extreme_any"] = share
            return table
        frame = pd.DataFrame(table).set_index("arm")
        frame.attrs["share_extreme_any"] = share
        return frame

    @reads
    def plot_overlap(self, ax: Any = None, *, bins: int = 30,
                     threshold: float = OVERLAP_THRESHOLD) -> matplotlib.axes.Axes | np.ndarray:
        """Plot histograms of the training rows' propensities by arm received.

        Needs matplotlib.

        With two arms, one panel shows P(T = classes_[1] | x) for the rows of
        each arm; with K > 2 arms, panel k shows P(T = classes_[k] | x) for
        the rows that received arm k and for the others.  Dotted lines mark
        ``threshold`` and 1 - threshold.  Propensities are cross-fitted and
        unclipped, as in :meth:`overlap_report`.

        Parameters
        ----------
        ax : matplotlib Axes or sequence of Axes, optional
            One Axes with two arms, K of them with K > 2 arms; None
            creates a figure.
        bins : int, default=30
            Histogram bins over [0, 1].
        threshold : float in (0, 0.5), default=0.01
            Where the dotted lines are drawn.

        Returns
        -------
        matplotlib.axes.Axes or ndarray of Axes
            The Axes (two arms) or an array of K Axes.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If bins or threshold has the wrong type.
        ValueError
            If bins is below 1, threshold is outside (0, 0.5), or ax holds
            the wrong number of Axes.
        ImportError
            If matplotlib is not installed.
        """
        self._check_is_fitted()
        n_bins = check_int(bins, "bins", 1, 10_000)
        thr = _check_threshold(threshold)
        return _plots.overlap(self._propensity_unclipped, self._codes_fit, self.classes_, ax, n_bins, thr)

    @reads
    def sample(self, X: ArrayLike | pandas.DataFrame, n_samples: int = 1, random_state: int | np.random.Generator | None = None, *,
               T: ArrayLike | None = None, Y: ArrayLike | None = None) -> np.ndarray:
        """Draw potential outcomes from the fitted generator.

        Each draw anchors one arm of each row and completes the other arms
        with the counterfactual generator G, given (x, anchor arm, anchor
        outcome):

        * with ``T`` and ``Y``, the anchor is the observed arm and outcome,
          which the draw keeps;
        * with ``T`` alone, the anchor outcome is drawn for arm ``T``: the
          model's expected outcome plus a residual resampled from that arm's
          cross-fitted training residuals (a Bernoulli draw for a binary
          outcome);
        * with neither, the anchor arm is drawn from the arms' shares in the
          training data, then its outcome as with ``T`` alone.

        A model fitted with ``crps_weight > 0`` has a generator that sees
        neither the anchor arm nor its outcome: the anchor only fixes the
        anchor arm's entry, and every other arm is drawn from x and noise
        (:meth:`predict_quantiles` and the other distributional methods
        draw every arm so).

        A model fitted on log(Y) (``outcome_transform_ == 'log'``) does all
        of this on the log scale (its expected log outcome plus a log
        residual, the log of an observed Y) and returns exp of the draws.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Covariates of the rows to draw for.
        n_samples : int, default=1
            Number of draws.
        random_state : int, numpy Generator or None, default=None
            Seeds the draws; the same value gives the same draws.  None draws
            fresh entropy.  Sampling never changes the fitted model.
        T : array-like of shape (n,), optional
            Observed arm of each row, labels from ``classes_``.
        Y : array-like of shape (n,), optional
            Observed outcome of each row; needs ``T``.

        Returns
        -------
        ndarray of shape (n_samples, n, K)
            ``out[s, i, k]`` is draw s of row i's outcome under arm
            ``classes_[k]`` (0.0 or 1.0 for a binary outcome).  Draw s comes
            from ensemble member ``s % n_estimators``.

        Raises
        ------
        ValueError
            If X, T or Y are malformed or mismatched, T holds an unknown label,
            Y is given without T, Y is not positive for a model fitted on
            log(Y), or n_samples is not a positive int.
        """
        Z = self._checked_X(X)
        n, K = Z.shape[0], len(self.classes_)
        count = check_int(n_samples, "n_samples", 1, LIMITS["n_samples"])
        # the (n_samples, n, K) draws, and one member's share of them in C
        _memory.check(8 * count * n * K * 2, f"GANITE.sample with n_samples={count} on {n} rows",
                      "lower n_samples or pass fewer rows")
        if Y is not None and T is None:
            raise ValueError("Y needs T: pass the observed arm of each row with its outcome")
        codes = None if T is None else encode_treatment(T, self.classes_, "T", n)
        y = None if Y is None else check_outcome(Y, self.outcome_type_, n)[0]
        binary = self.outcome_type_ == "binary"
        # the networks draw on the scale they were fitted on
        log = self._log_scale()
        y_obs = y
        if y is not None:
            y = self._to_model_scale(y)
        members = self._members()
        children = np.random.SeedSequence(check_random_state(random_state)).spawn(len(members))
        if y is None:
            fit_codes = self._codes_fit
            shares = np.bincount(fit_codes, minlength=K) / fit_codes.size
            if not binary:
                rows = np.arange(fit_codes.size)
                if log:
                    resid = np.log(self._y_fit) - np.log(self._mu_oof[rows, fit_codes] / self._smear[fit_codes])
                else:
                    resid = self._y_fit - self._mu_oof[rows, fit_codes]
                resid = [resid[fit_codes == a] for a in range(K)]
        M = len(members)
        out = np.empty((count, n, K))
        for m, member in enumerate(members):
            draws = range(m, count, M)
            if not draws:
                continue
            py_seq, core_seq = children[m].spawn(2)
            line = member.line(Z)  # once per member, not per draw
            if y is not None:
                seed = int(core_seq.generate_state(1, np.uint64)[0])
                out[m::M] = member.sample(Z, codes, y, len(draws), seed, line)
                continue
            rng = np.random.default_rng(py_seq)
            core_seeds = core_seq.generate_state(len(draws), np.uint64)
            mu = member.predict(Z, line)
            for j, s in enumerate(draws):
                t = codes if codes is not None else rng.choice(K, size=n, p=shares).astype(np.int32)
                mean = mu[np.arange(n), t]
                if binary:
                    anchor = (rng.random(n) < mean).astype(np.float64)
                else:
                    anchor = mean.copy()
                    for a in range(K):
                        rows = np.flatnonzero(t == a)
                        if rows.size:
                            anchor[rows] += rng.choice(resid[a], size=rows.size)
                out[s] = member.sample(Z, t, anchor, 1, int(core_seeds[j]), line)[0]
        if log:
            out = np.exp(out)
        if y is not None:  # the anchors are the observed outcomes, kept exactly
            out[:, np.arange(n), codes] = y_obs
        return out

    # ------------------------------------------------------- persistence
    _persistence = _state
    # kept in memory only, for the bootstrap's refits
    _transient_attributes = ("_fit_data",)
