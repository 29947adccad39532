"""CausalGraphWGAN: synthetic data along a causal graph, with interventional
and mediation queries."""
from .estimator import CausalGraphWGAN, MediationResult

__all__ = ["CausalGraphWGAN", "MediationResult"]
