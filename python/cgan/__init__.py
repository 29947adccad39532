"""cgan: generative adversarial networks for causal inference, with a C core.

- :class:`GANITE` estimates individual and average treatment effects
  (Yoon, Jordon & van der Schaar, 2018) for two or more arms and continuous
  or binary outcomes, and draws counterfactual outcomes.
- :func:`fit`, :func:`sample` and :func:`ate` are one-line shortcuts.
- :mod:`cgan.datasets` bundles IHDP replication 1.
"""
from . import _cgan, datasets
from ._api import ate, fit, sample
from ._ganite import GANITE

__version__ = _cgan.__version__

__all__ = ["GANITE", "ate", "datasets", "fit", "sample", "__version__"]
