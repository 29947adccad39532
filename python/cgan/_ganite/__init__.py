"""GANITE: treatment effects with generative adversarial nets."""
from .estimator import GANITE

__all__ = ["GANITE"]
