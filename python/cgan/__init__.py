"""cgan: generative adversarial networks for causal inference, with a C core.

- :class:`CausalWGAN` fits conditional WGAN-GPs to a data set and samples
  realistic synthetic copies with known effects (Athey et al., 2021);
  :func:`evaluate` ranks estimators on them by Monte Carlo.
- :class:`CausalGraphWGAN` fits a model per node of a causal graph over
  a data set's columns and samples observational, interventional and
  nested worlds: average effects, natural direct and indirect effects.
- :class:`GANITE` estimates individual and average treatment effects
  (Yoon, Jordon & van der Schaar, 2018) for two or more arms and continuous
  or binary outcomes, and draws counterfactual outcomes.
- :class:`SCIGAN` estimates dose-response curves for continuous and dosed
  treatments (Bica, Jordon & van der Schaar, 2020): each unit's curve, the
  average curve with a bootstrap band, and the best dose.
- :func:`fit`, :func:`sample` and :func:`ate` are one-line shortcuts.
- :func:`privacy_report` shows what a synthetic table reveals about the
  rows it was trained on.
- :func:`load` and :func:`loads` read models written by ``model.save`` and
  ``model.dumps``.
- :mod:`cgan.datasets` bundles IHDP replication 1 and the Dehejia-Wahba
  experimental LaLonde sample.
"""
from . import _cgan, datasets
from ._api import ate, fit, sample
from ._evaluate import evaluate
from ._persist import load, loads
from ._privacy import plot_privacy_report, privacy_report
from ._ganite import GANITE
from ._inference import ATEResult
from ._scigan import SCIGAN
from ._wgan import CausalWGAN
from ._graph import CausalGraphWGAN, MediationResult

__version__ = _cgan.__version__

__all__ = ["ATEResult", "CausalGraphWGAN", "CausalWGAN", "GANITE", "MediationResult", "SCIGAN", "ate", "datasets",
           "evaluate", "fit", "load", "loads",
           "plot_privacy_report", "privacy_report", "sample", "__version__"]
