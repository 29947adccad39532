"""Tabular column encoding shared by cgan's synthesizers.

A continuous column is standardised (on a log scale above its lower bound
when asked, or when the data call for it), clamped to its limits (its
bounds, and by default the range observed in fit), and may carry point
masses at its bounds; a categorical column is one-hot over its levels.
layout gives the C core the softmax blocks and limits of an encoded matrix;
decode maps generated rows back to labels and values of the column's dtype.
make_columns builds every column of a data set with these choices."""
from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ._persist import rebuild, register_object
from ._validation import require_pandas

if TYPE_CHECKING:
    import pandas


class Column:
    """How one column is encoded: continuous (standardised, with bounds) or
    categorical (one-hot over its levels)."""

    def __init__(self, name, values, categorical, bounds, mass_at_bounds=False, log=False, margin=None):
        self.name = name
        self.masses = []
        # where generated values are clamped: the bound on a side that has
        # one, else the observed extreme widened by `margin` times the
        # observed range (None: no limit there)
        self.low = self.high = None
        # the model works on u = log1p((x - lower) / log_scale) for a column
        # fitted with log, on x itself otherwise; mean and sd are those of u
        self.log_scale = None
        self.dtype = values.dtype
        self.categorical = categorical
        if categorical:
            levels = levels_of(name, values)
            if len(levels) < 2:
                raise ValueError(f"categorical column {name!r} has a single level ({levels[0]!r})")
            self.levels = levels
            self.width = len(levels)
            if bounds is not None:
                raise ValueError(f"bounds are given for {name!r}, which is categorical")
            if log:
                raise ValueError(f"log names {name!r}, which is categorical")
        else:
            v = continuous_values(name, values)
            self.width = 1
            lo, hi = (None, None) if bounds is None else bounds
            if lo is not None and v.min() < float(lo):
                raise ValueError(f"column {name!r} has values below its lower bound {lo} in bounds "
                                 f"(minimum {v.min():g})")
            if hi is not None and v.max() > float(hi):
                raise ValueError(f"column {name!r} has values above its upper bound {hi} in bounds "
                                 f"(maximum {v.max():g})")
            self.lower = None if lo is None else float(lo)
            self.upper = None if hi is None else float(hi)
            self.low, self.high = self.lower, self.upper
            if margin is not None:
                spread = float(v.max() - v.min())
                if self.low is None:
                    self.low = float(v.min()) - margin * spread
                if self.high is None:
                    self.high = float(v.max()) + margin * spread
            if log:
                if self.lower is None:
                    raise ValueError(f"log names {name!r}, which has no lower bound; give one in bounds, "
                                     f"e.g. bounds={{{name!r}: (0, None)}}")
                above = v[v > self.lower] - self.lower
                # the median distance above the bound sets where the log bends
                self.log_scale = float(np.median(above)) if above.size else 1.0
            u = self.to_model(v)
            self.mean = float(u.mean())
            sd = float(u.std())
            self.sd = sd if sd > 0 else 1.0
            self.integer = values.dtype.kind in "biu"
            # a bound that two or more rows sit exactly on holds a point mass
            # (a continuous law puts no ties there); with mass_at_bounds the
            # generator draws "at it or not" from a softmax block that follows
            # the value: [value | interior, at lower?, at upper?]
            if mass_at_bounds and (self.lower is None or self.upper is None or self.lower < self.upper):
                for side, b in (("lower", self.lower), ("upper", self.upper)):
                    if b is not None and np.count_nonzero(v == b) >= 2:
                        self.masses.append(side)
            self.width = 1 + (len(self.masses) + 1 if self.masses else 0)

    @classmethod
    def _from_saved(cls, state):
        """A column rebuilt from saved attributes, checked (see _persist)."""
        return rebuild(cls, state, check_saved_column)

    def to_model(self, x):
        """Values (float64) on the scale the model works on."""
        return x if self.log_scale is None else np.log1p((x - self.lower) / self.log_scale)

    def from_model(self, u):
        if self.log_scale is None:
            return u
        with np.errstate(over="ignore"):  # an overflow is reported by decode
            return self.lower + self.log_scale * np.expm1(u)

    def standardise(self, x):
        return (self.to_model(np.asarray(x, dtype=np.float64)) - self.mean) / self.sd

    def encode(self, values):
        if self.categorical:
            codes = np.searchsorted(self.levels, values)
            codes = np.clip(codes, 0, self.width - 1)
            if not np.all(self.levels[codes] == values):
                raise ValueError(f"column {self.name!r} holds levels not seen in fit")
            return np.eye(self.width, dtype=np.float32)[codes]
        v = values.astype(np.float64)
        value = self.standardise(v).astype(np.float32)[:, None]
        if not self.masses:
            return value
        state = np.zeros(len(v), dtype=np.intp)
        for k, side in enumerate(self.masses, start=1):
            state[v == getattr(self, side)] = k
        return np.concatenate([value, np.eye(len(self.masses) + 1, dtype=np.float32)[state]], axis=1)

    def _at_bounds(self, block):
        """(rows, bound) for each point mass: the rows of an encoded block
        whose drawn indicator names that bound."""
        if not self.masses:
            return []
        state = np.argmax(block[:, 1:], axis=1)
        return [(state == k, getattr(self, side)) for k, side in enumerate(self.masses, start=1)]

    def snap(self, block):
        """The encoded block with its value set to the bound its drawn
        indicator names, as the training rows at a bound are encoded (in place)."""
        for rows, bound in self._at_bounds(block):
            block[rows, 0] = np.float32(self.standardise(bound))
        return block

    def decode(self, block):
        if self.categorical:
            return self.levels[np.argmax(block, axis=1)]
        u = block[:, 0].astype(np.float64) * self.sd + self.mean
        # the core clamps in standardised units; snap to the exact bounds
        # (compared on the model's scale, where the clamp happened)
        at = list(self._at_bounds(block))
        for bound, sign in ((self.low, 1), (self.high, -1)):
            if bound is not None:
                b = float(self.to_model(bound))
                at.append((sign * (u - b) <= 1e-6 * (abs(b) + self.sd), bound))
        v = self.from_model(u)
        for rows, bound in at:
            v[rows] = bound
        if not np.all(np.isfinite(v)):
            raise FloatingPointError(f"column {self.name!r}: the generator drew values beyond the float range on "
                                     f"its log scale; the model diverged (lower learning_rate)")
        if self.integer:
            # rounding keeps integers within the bounds, and draws beyond
            # the column's integer type saturate at its limits
            v = np.round(v)
            if self.low is not None:
                v = np.maximum(v, np.ceil(self.low))
            if self.high is not None:
                v = np.minimum(v, np.floor(self.high))
            if self.dtype.kind == "b":
                lo, hi = 0.0, 1.0
            else:
                info = np.iinfo(self.dtype)
                lo, hi = float(info.min), float(info.max)
                if hi > info.max:  # 2**63 - 1 and 2**64 - 1 round up in float64
                    hi = np.nextafter(hi, 0.0)
            v = np.clip(v, lo, hi)
        return v.astype(self.dtype) if self.dtype.kind in "biuf" else v

    def bounds_std(self):
        if self.categorical:
            return [-np.inf] * self.width, [np.inf] * self.width
        lo = -np.inf if self.low is None else self.standardise(self.low)
        hi = np.inf if self.high is None else self.standardise(self.high)
        free = self.width - 1
        return [lo] + [-np.inf] * free, [hi] + [np.inf] * free


# files name the column encoder by its class name of earlier versions
register_object(Column, "_Column")


def hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def is_column(df, name) -> bool:
    return hashable(name) and name in df.columns


def column_list(df: pandas.DataFrame, value: Any, what: str) -> list[Any]:
    """A list of column names of df, given as a sequence (not a string)."""
    if isinstance(value, (str, bytes, Mapping)) or not np.iterable(value):
        raise TypeError(f"{what} must be a list of column names, got {type(value).__name__}")
    out = list(value)
    for c in out:
        if not hashable(c):
            raise TypeError(f"{what} must hold column names, got an element of type {type(c).__name__}")
        if c not in df.columns:
            raise ValueError(f"{what} name a column {c!r} that is not in df (an unknown column); "
                             f"columns are {[str(x) for x in df.columns]}")
    seen = set()
    for c in out:
        if c in seen:
            raise ValueError(f"{what} list the column {c!r} more than once")
        seen.add(c)
    return out


def check_bounds(name, b):
    """(lower, upper) of a bounds entry, each a finite float or None."""
    if isinstance(b, (str, bytes)) or not np.iterable(b) or len(b) != 2:
        raise TypeError(f"bounds of {name!r} must be a pair (lower, upper), got {b!r}")
    out = []
    for side, v in zip(("lower", "upper"), b):
        if v is None:
            out.append(None)
            continue
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TypeError(f"bounds of {name!r}: the {side} bound must be a number or None, got {type(v).__name__}")
        if not np.isfinite(float(v)):
            raise ValueError(f"bounds of {name!r}: the {side} bound must be finite or None, got {v}")
        out.append(float(v))
    if out[0] is not None and out[1] is not None and out[0] > out[1]:
        raise ValueError(f"bounds of {name!r} have lower > upper")
    return tuple(out)


def levels_of(name, values):
    """The sorted distinct values of a categorical column."""
    try:
        return np.unique(values)
    except TypeError as exc:
        raise TypeError(f"column {name!r} mixes values that cannot be ordered ({exc}); use one type of label") \
            from None


def continuous_values(name, values):
    """A continuous column as float64: numbers, finite, within float32's range."""
    if values.dtype.kind not in "biuf":
        raise TypeError(f"column {name!r} holds non-numbers (dtype {values.dtype}), so it can only be categorical")
    v = values.astype(np.float64)
    if not np.all(np.isfinite(v)):
        raise ValueError(f"column {name!r} contains inf; drop or clip those rows")
    if np.any(np.abs(v) > np.finfo(np.float32).max):
        raise ValueError(f"column {name!r} holds values beyond float32's range (about 3.4e38)")
    return v


def encode_frame(columns, df):
    return np.concatenate([c.encode(df[c.name].to_numpy()) for c in columns], axis=1).astype(np.float32)


def layout(columns):
    block, lower, upper, b = [], [], [], 0
    for c in columns:
        if c.categorical:
            block += [b] * c.width
            b += 1
        else:
            block.append(-1)
            if c.width > 1:  # the point-mass indicator of a bounded column
                block += [b] * (c.width - 1)
                b += 1
        lo, hi = c.bounds_std()
        lower += lo
        upper += hi
    return np.array(block), np.array(lower), np.array(upper)


def blocks(columns, X):
    """(column, view of its columns of the encoded matrix X), in order."""
    j = 0
    for c in columns:
        yield c, X[:, j:j + c.width]
        j += c.width


def decode_rows(columns, X):
    return {c.name: c.decode(block) for c, block in blocks(columns, X)}


def bound_indicators(cols, df):
    """[[i, j, bound, code], ...]: covariate i is categorical with two
    levels, and its level `code` marks exactly the rows where continuous
    covariate j sits on `bound` (one of j's bounds), as LaLonde's u74
    marks re74 == 0.  Such a column is a function of another, and sampling
    sets it from that one."""
    # rows at each bound of each bounded continuous column, computed once
    at_bound = [(j, b, df[x.name].to_numpy().astype(np.float64) == b) for j, x in enumerate(cols)
                if not x.categorical for b in (x.lower, x.upper) if b is not None]
    found = []
    for i, c in enumerate(cols):
        if not c.categorical or c.width != 2 or not at_bound:
            continue
        level1 = np.argmax(c.encode(df[c.name].to_numpy()), axis=1) == 1
        for j, b, at in at_bound:
            match = next(([i, j, b, code] for code, rows in ((1, level1), (0, ~level1))
                          if np.array_equal(at, rows)), None)
            if match is not None:
                found.append(match)
                break
    return found


def looks_categorical(col) -> bool:
    if col.dtype.kind not in "biuf":
        return True
    return col.nunique() <= 2


# ------------------------------------------------------------- persistence
def valid_indicator(d, cols):
    """d is [i, j, bound, code]: covariate i a two-level categorical,
    covariate j a continuous column with `bound` as one of its bounds."""
    if type(d) is not list or len(d) != 4 or not all(type(v) is int for v in (d[0], d[1], d[3])):
        return False
    i, j, bound, code = d
    if not (0 <= i < len(cols) and 0 <= j < len(cols) and code in (0, 1) and type(bound) is float):
        return False
    return (cols[i].categorical and cols[i].width == 2 and not cols[j].categorical
            and bound in (cols[j].lower, cols[j].upper))


def check_saved_column(a):
    """Checks a saved column's attributes `a` (filling in those that columns
    saved before they existed lack); raises ValueError."""
    if "name" not in a or not is_label(a["name"]):
        raise ValueError("a saved column's name must be a str, number or None")
    if type(a.get("width")) is not int or a["width"] < 1 or not isinstance(a.get("dtype"), np.dtype):
        raise ValueError("a saved column has an invalid width or dtype")
    if a.get("categorical") is True:
        levels = a.get("levels")
        if not isinstance(levels, np.ndarray) or levels.shape != (a["width"],) or a["width"] < 2:
            raise ValueError("a saved categorical column's levels do not match its width")
        if a.setdefault("masses", []) != []:
            raise ValueError("a saved categorical column cannot have point masses")
        if a.setdefault("low", None) is not None or a.setdefault("high", None) is not None:
            raise ValueError("a saved categorical column cannot have limits")
    elif a.get("categorical") is False:
        for k in ("mean", "sd"):
            if type(a.get(k)) is not float or not np.isfinite(a[k]):
                raise ValueError(f"a saved continuous column's {k} must be a finite float, got {a.get(k)!r}")
        if not a["sd"] > 0:
            raise ValueError(f"a saved continuous column's sd must be positive, got {a['sd']!r}")
        for k in ("lower", "upper"):
            if k not in a or not (a[k] is None or type(a[k]) is float and np.isfinite(a[k])):
                raise ValueError(f"a saved column's {k} bound must be a finite float or None")
        # columns saved before point masses existed have none
        masses = a.setdefault("masses", [])
        if (type(masses) is not list or masses not in ([], ["lower"], ["upper"], ["lower", "upper"])
                or any(a[k] is None for k in masses)):
            raise ValueError("a saved column's point masses must be a list of its bounds ('lower', 'upper')")
        if a["width"] != (len(masses) + 2 if masses else 1):
            raise ValueError("a saved continuous column's width does not match its point masses")
        if type(a.get("integer")) is not bool:
            raise ValueError("a saved column's 'integer' flag must be a bool")
        # columns saved before the observed-range limits existed are
        # clamped at their bounds only
        for k, bound in (("low", "lower"), ("high", "upper")):
            limit = a.setdefault(k, a[bound])
            if not (limit is None or type(limit) is float and np.isfinite(limit)):
                raise ValueError(f"a saved column's {k} limit must be a finite float or None")
            if a[bound] is not None and limit != a[bound]:
                raise ValueError(f"a saved column's {k} limit must equal its {bound} bound")
        if a["low"] is not None and a["high"] is not None and a["low"] > a["high"]:
            raise ValueError("a saved column's limits are reversed")
        # columns saved before the log scale existed are linear
        scale = a.setdefault("log_scale", None)
        if scale is not None and not (type(scale) is float and np.isfinite(scale) and scale > 0
                                      and a["lower"] is not None):
            raise ValueError("a saved column's log_scale must be None, or a positive float with a lower bound")
    else:
        raise ValueError("a saved column's 'categorical' flag must be a bool")


def is_label(v):
    """A column label that pandas and dicts accept: a scalar or a tuple of them."""
    if type(v) is tuple:
        return all(is_label(x) for x in v)
    return v is None or type(v) in (bool, int, float, str)




# ------------------------------------------------------------ data checks
def check_frame(df, what: str = "df"):
    """df as a DataFrame with rows and unique column names; returns pandas."""
    pd = require_pandas("cgan's synthesizers")
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise ValueError(f"{what} has no rows")
    if df.columns.has_duplicates:
        dup = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise ValueError(f"{what} has duplicate column names {dup}")
    return pd


def check_role(df, role: str, col) -> None:
    """`col` names one column of df, which plays `role`."""
    if not is_column(df, col):
        if not hashable(col):
            raise TypeError(f"{role} must be one column name, got {type(col).__name__}")
        raise ValueError(f"{role} column {col!r} is not in df; columns are {[str(c) for c in df.columns]}")


def check_bounds_map(df, bounds) -> dict:
    """bounds as {column: (lower, upper)}, each bound a finite float or None."""
    if bounds is None:
        return {}
    if not isinstance(bounds, Mapping):
        raise TypeError(f"bounds must be a dict of column -> (lower, upper), got {type(bounds).__name__}")
    out = {}
    for c, b in bounds.items():
        if not is_column(df, c):
            raise ValueError(f"bounds name an unknown column {c!r}")
        out[c] = check_bounds(c, b)
    return out


def check_complete(df, columns) -> None:
    """The columns hold no missing values and no complex numbers."""
    for c in columns:
        col = df[c]
        missing = int(col.isna().sum())
        if missing == len(col):
            raise ValueError(f"column {c!r} is all NaN")
        if missing:
            raise ValueError(f"column {c!r} has {missing} missing value{'s' if missing > 1 else ''}; "
                             f"impute or drop them")
        if col.dtype.kind == "c":
            raise TypeError(f"column {c!r} holds complex numbers, which are neither continuous nor categories")


def check_known(df, cols):
    """Check that df holds the columns of the encoders `cols` with values
    they could encode: no missing values, known levels, finite numbers."""
    pd = require_pandas("compare")
    missing = [c.name for c in cols if not is_column(df, c.name)]
    if missing:
        raise ValueError(f"df lacks the fitted columns {missing}")
    for c in cols:
        col = df[c.name]
        if isinstance(col, pd.DataFrame):
            raise ValueError(f"df has more than one column named {c.name!r}")
        if col.isna().any():
            raise ValueError(f"column {c.name!r} of df has missing values")
        values = col.to_numpy()
        if c.categorical:
            known = set(np.asarray(c.levels).tolist())
            unseen = [v for v in dict.fromkeys(values.tolist()) if v not in known]
            if unseen:
                raise ValueError(f"column {c.name!r} of df holds levels not seen in fit: {unseen[:5]}")
        else:
            continuous_values(c.name, values)


# ------------------------------------------------------- building columns
def check_log(df, log) -> str | list:
    """fit's `log`: 'auto', or a list of column names (None: none)."""
    if isinstance(log, str) and log == "auto":
        return "auto"
    return [] if log is None else column_list(df, log, "log")


def check_margin(margin):
    """range_margin: None, or a finite float >= 0."""
    if margin is None:
        return None
    if isinstance(margin, (bool, np.bool_)) or not isinstance(margin, numbers.Real) or \
            not (np.isfinite(float(margin)) and float(margin) >= 0):
        raise ValueError(f"range_margin must be None or a finite number >= 0, got {margin!r}")
    return float(margin)


# a column is put on a log scale by default when the 99th percentile of its
# values above its lower bound is more than LOG_RANGE times their median
LOG_RANGE = 25.0


def prefers_log(values, lower) -> bool:
    """Whether a continuous column with a lower bound is modelled on the log
    scale by default: its values above the bound span more than an order of
    magnitude beyond their median (the 99th percentile of the distances
    from the bound over their median exceeds LOG_RANGE), as a log-normal
    law with sigma above 1.4 does.  Earnings that fall off exponentially
    (LaLonde's: a ratio of 5 to 8) stay on their own scale."""
    above = values[values > lower] - lower
    if len(np.unique(above)) < 10:
        return False
    return float(np.quantile(above, 0.99)) > LOG_RANGE * float(np.median(above))


def make_columns(df, names, categorical, bounds, log, masses, margin, always_categorical=()):
    """Column encoders for the columns `names` of df, in order.

    categorical: None (non-numeric columns and those with at most two
    values) or the names to treat as categorical, to which
    always_categorical are added; bounds: a checked {name: (lower, upper)};
    log: 'auto' (chosen by prefers_log among continuous columns with a lower
    bound) or a list of names; masses: the names whose encoders carry
    point-mass indicators (see Column); margin: None or the share of each
    observed range that samples may go beyond it."""
    if categorical is None:
        cat = {c for c in names if looks_categorical(df[c])}
    else:
        cat = set(column_list(df, categorical, "categorical"))
    cat |= set(always_categorical)
    if log == "auto":
        log = [c for c in names if c not in cat and bounds.get(c, (None, None))[0] is not None and
               df[c].to_numpy().dtype.kind in "biuf" and
               prefers_log(df[c].to_numpy().astype(np.float64), bounds[c][0])]
    log = set(log)
    return [Column(c, df[c].to_numpy(), c in cat, bounds.get(c), c in masses, c in log, margin) for c in names]


def to_frame(data, columns, dtypes):
    """A DataFrame of the arrays data[c] for the labels `columns` that data
    holds, in that order, each cast back to dtypes[c] where it can be."""
    pd = require_pandas("cgan's synthesizers")
    frame = pd.DataFrame({c: data[c] for c in columns if c in data})
    for c in frame.columns:
        try:
            frame[c] = frame[c].astype(dtypes[c])
        except (TypeError, ValueError):
            pass
    return frame
