"""CausalWGAN: synthetic data with known effects from conditional WGAN-GPs."""
from .._tabular import Column as _Column  # noqa: F401  (the encoder's name in pickles of earlier versions)
from .estimator import CausalWGAN

__all__ = ["CausalWGAN"]
