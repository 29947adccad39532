"""The bundled data sets load with the documented shapes, columns, dtypes
and known facts (the LaLonde figures are those of Dehejia & Wahba and of
/work/shared/data/README.md)."""
import sys

import numpy as np
import pytest

from cgan.datasets import load_ihdp, load_lalonde

pd = pytest.importorskip("pandas")

LALONDE_COLUMNS = ["t", "age", "education", "black", "hispanic", "married", "nodegree",
                   "re74", "re75", "re78", "u74", "u75"]


def test_lalonde_shape_columns_dtypes():
    df = load_lalonde()
    assert isinstance(df, pd.DataFrame)
    assert df.shape == (445, 12)
    assert list(df.columns) == LALONDE_COLUMNS
    for c in ("re74", "re75", "re78"):
        assert df[c].dtype == np.float64, c
    for c in set(LALONDE_COLUMNS) - {"re74", "re75", "re78"}:
        assert df[c].dtype == np.int64, c
    assert isinstance(df.index, pd.RangeIndex) and df.index[-1] == 444
    assert not df.isna().any().any()


def test_lalonde_known_facts():
    df = load_lalonde()
    assert int(df.t.sum()) == 185 and int((df.t == 0).sum()) == 260
    diff = df.re78[df.t == 1].mean() - df.re78[df.t == 0].mean()
    assert diff == pytest.approx(1794.34, abs=0.005)
    for c in ("t", "black", "hispanic", "married", "nodegree", "u74", "u75"):
        assert set(df[c].unique()) <= {0, 1}, c
    np.testing.assert_array_equal(df.u74, (df.re74 == 0).astype(int))
    np.testing.assert_array_equal(df.u75, (df.re75 == 0).astype(int))
    assert (df[["re74", "re75", "re78"]] >= 0).all().all()
    assert df.age.between(17, 55).all() and df.education.between(3, 16).all()


def test_lalonde_returns_a_fresh_frame():
    a = load_lalonde()
    a.loc[0, "re78"] = -1.0
    assert load_lalonde().loc[0, "re78"] == 0.0


def test_lalonde_without_pandas(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` raise ImportError
    with pytest.raises(ImportError, match="load_lalonde returns a pandas DataFrame; install pandas"):
        load_lalonde()


def test_ihdp_shapes():
    d = load_ihdp()
    assert d.X.shape == (747, 25)
    assert d.T.shape == d.Y.shape == d.mu0.shape == d.mu1.shape == (747,)
    assert int(d.T.sum()) == 139 and int(d.test.sum()) == 75
    assert d.true_ate == pytest.approx(4.016, abs=5e-4)
