"""Data bundled with cgan.

- IHDP replication 1 (Hill, 2011; the NPCI setting used by Shalit et al. and
  GANITE), with its true potential-outcome means.
- The LaLonde NSW experimental sample as selected by Dehejia & Wahba (1999):
  445 men, 185 treated.  data/nsw_dw_experimental.csv (17 KB, SHA-256
  427811cc...74e98) is data/original_data/experimental.feather of
  gsbDBI/ds-wgan (commit ee7fa67, MIT; the data of Athey, Imbens, Metzger &
  Munro, 2021) written as CSV, with values that round-trip exactly.  Those
  files redistribute Rajeev Dehejia's NBER data page,
  https://users.nber.org/~rdehejia/nswdata2.html."""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas


@dataclass(frozen=True)
class IHDP:
    """IHDP replication 1: covariates, treatment, outcomes and the truth.

    Returned by :func:`load_ihdp`; a frozen record.

    Attributes
    ----------
    X : ndarray of shape (747, 25)
        Covariates: 6 continuous and 19 binary, in the order of
        ``feature_names``.
    T : ndarray of shape (747,)
        Treatment, 0 or 1 (int64); 139 rows are treated.
    Y : ndarray of shape (747,)
        The factual outcome, observed under T.
    Y_cf : ndarray of shape (747,)
        The simulated outcome under the other arm (never observed in
        practice; here for checking).
    mu0 : ndarray of shape (747,)
        The true mean outcome under control.
    mu1 : ndarray of shape (747,)
        The true mean outcome under treatment.
    test : ndarray of shape (747,)
        Boolean mask of the standard 75 test rows; the other 672 are the
        training rows.
    feature_names : tuple of str
        Names of the columns of X: ``x1`` to ``x25``.
    """

    X: np.ndarray
    T: np.ndarray
    Y: np.ndarray
    Y_cf: np.ndarray
    mu0: np.ndarray
    mu1: np.ndarray
    test: np.ndarray
    feature_names: tuple[str, ...]

    @property
    def true_ite(self) -> np.ndarray:
        """The true individual effects mu1 - mu0, shape (747,)."""
        return self.mu1 - self.mu0

    @property
    def true_ate(self) -> float:
        """The true average effect over all 747 rows, mean(mu1 - mu0)."""
        return float(np.mean(self.mu1 - self.mu0))


def load_ihdp() -> IHDP:
    """IHDP replication 1 with its standard train/test split (672/75 rows).

    The Infant Health and Development Program's covariates with the
    simulated outcome of Hill (2011), setting "A" of the NPCI package, as
    used by Shalit et al. (2017) and GANITE: treated children of non-white
    mothers were removed, so the arms overlap weakly.  The true mean
    outcomes under both arms are known.

    Returns
    -------
    IHDP
        The arrays, the test mask and the covariate names.

    See Also
    --------
    cgan.GANITE : estimates the effects whose truth this carries.

    References
    ----------
    Hill, J. (2011).  Bayesian nonparametric modeling for causal inference.
    Journal of Computational and Graphical Statistics 20(1).

    Examples
    --------
    >>> from cgan.datasets import load_ihdp
    >>> data = load_ihdp()
    >>> data.X.shape, int(data.T.sum()), int(data.test.sum())
    ((747, 25), 139, 75)
    >>> round(data.true_ate, 3)
    4.016
    """
    with resources.files("cgan").joinpath("data/ihdp_npci_1.csv").open("r") as fh:
        header = fh.readline().strip().split(",")
        data = np.loadtxt(fh, delimiter=",")
    return IHDP(
        X=data[:, 5:30], T=data[:, 0].astype(np.int64), Y=data[:, 1], Y_cf=data[:, 2],
        mu0=data[:, 3], mu1=data[:, 4], test=data[:, 30].astype(bool), feature_names=tuple(header[5:30]),
    )


_LALONDE_DTYPES = {
    "t": "int64", "age": "int64", "education": "int64", "black": "int64", "hispanic": "int64",
    "married": "int64", "nodegree": "int64", "re74": "float64", "re75": "float64", "re78": "float64",
    "u74": "int64", "u75": "int64",
}


def load_lalonde() -> pandas.DataFrame:
    """The Dehejia-Wahba experimental sample of LaLonde's NSW job training data.

    The randomised National Supported Work experiment, restricted by
    Dehejia & Wahba (1999) to LaLonde's men whose 1974 earnings are known: 185
    treated and 260 controls.  The difference in mean 1978 earnings,
    $1,794.34, is the experimental benchmark that observational estimators
    are judged against (LaLonde, 1986).

    Returns
    -------
    pandas.DataFrame
        445 rows and 12 columns, in this order:

        - ``t`` (int64): 1 for the NSW training programme, 0 for controls.
        - ``age``, ``education`` (int64): years.
        - ``black``, ``hispanic``, ``married``, ``nodegree`` (int64): 0/1.
        - ``re74``, ``re75``, ``re78`` (float64): real earnings in US dollars
          in 1974, 1975 and 1978; ``re78`` is the outcome.
        - ``u74``, ``u75`` (int64): 1 when ``re74`` (``re75``) is zero.

    Raises
    ------
    ImportError
        If pandas is not installed (pandas is optional for cgan).

    See Also
    --------
    cgan.CausalWGAN : fits synthetic copies of this sample with known effects.

    References
    ----------
    LaLonde, R. (1986).  Evaluating the econometric evaluations of training
    programs with experimental data.  American Economic Review 76(4).

    Dehejia, R. & Wahba, S. (1999).  Causal effects in nonexperimental
    studies.  Journal of the American Statistical Association 94(448).

    Examples
    --------
    >>> from cgan.datasets import load_lalonde
    >>> df = load_lalonde()
    >>> df.shape
    (445, 12)
    >>> round(float(df.re78[df.t == 1].mean() - df.re78[df.t == 0].mean()), 2)
    1794.34
    """
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("load_lalonde returns a pandas DataFrame; install pandas (pip install pandas)") from None
    with resources.files("cgan").joinpath("data/nsw_dw_experimental.csv").open("r") as fh:
        return pd.read_csv(fh, dtype=_LALONDE_DTYPES)

