"""SCIGAN: dose-response curves with generative adversarial nets."""
from .estimator import SCIGAN

__all__ = ["SCIGAN"]
