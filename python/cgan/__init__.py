"""cgan: generative adversarial networks for causal inference, with a C core."""
from . import _cgan

__version__ = _cgan.__version__

__all__ = ["__version__"]
