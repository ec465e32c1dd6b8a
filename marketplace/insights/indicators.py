"""Price-anomaly indicators: WFP ALPS, FAO GIEWS IPA, robust summaries and transaction flags.

Pure module: no Flask, no database, no numpy. Prices come in as ``Decimal`` (COP per kg);
summaries that only pick and interpolate values (median, quartiles) stay exact in
``Decimal``, while the indicators that need regression, roots or square roots work in
float and say so on their fields.

Monthly series are ``Sequence[tuple[date, Decimal]]``, oldest first, one entry per calendar
month and no gaps (:func:`monthly_from_weekly` builds one from DANE SIPSA weekly prices).
Only year and month of each date matter. When a series cannot give an indicator the
functions raise :class:`IndicatorError` with a stable ``code`` (rather than returning an
empty list), so a dashboard can tell "not enough history" from "no anomaly":

- ``"no_data"``: nothing to summarise;
- ``"not_enough_history"``: fewer months than the indicator needs;
- ``"not_consecutive"``: months out of order, repeated or missing;
- ``"non_positive_price"``: a zero or negative price where a growth rate needs a ratio;
- ``"singular_system"``: the regression has no unique solution (cannot happen with the
  consecutive months ALPS demands; kept as a guard);
- ``"invalid_argument"``: weights, thresholds or references that make no sense.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Literal, NamedTuple, Protocol

NO_DATA = "no_data"
NOT_ENOUGH_HISTORY = "not_enough_history"
NOT_CONSECUTIVE = "not_consecutive"
NON_POSITIVE_PRICE = "non_positive_price"
SINGULAR_SYSTEM = "singular_system"
INVALID_ARGUMENT = "invalid_argument"

ALPS_STRESS = 0.25
ALPS_ALERT = 1.0
ALPS_CRISIS = 2.0
IPA_MODERATE = 0.5
IPA_HIGH = 1.0
IPA_QUARTERLY_WEIGHT = 0.4

MonthlySeries = Sequence[tuple[date, Decimal]]


class IndicatorError(ValueError):
    """An indicator cannot be computed; ``code`` is one of the module's code constants."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- monthly series


class _Weekly(Protocol):
    week_start: date
    mean: Decimal


def monthly_from_weekly(weeks: Iterable[_Weekly], min_weeks: int = 1) -> list[tuple[date, Decimal]]:
    """Monthly average prices from SIPSA weekly prices (``sipsa.WeeklyPrice`` or alike).

    A week belongs to the month of its ``week_start``; the month's price is the plain
    average of those weekly means (``Decimal`` division, 28 significant digits). Months
    are keyed by their first day and returned oldest first. Months with fewer than
    ``min_weeks`` weeks are left out (SIPSA's first and last months often hold a single
    week); leaving out an inner month makes a gap that ALPS and IPA then refuse.
    """
    if min_weeks < 1:
        raise IndicatorError(INVALID_ARGUMENT, "min_weeks must be at least 1")
    by_month: dict[date, list[Decimal]] = {}
    for week in weeks:
        month = date(week.week_start.year, week.week_start.month, 1)
        by_month.setdefault(month, []).append(week.mean)
    return [
        (month, sum(prices, Decimal(0)) / len(prices))
        for month, prices in sorted(by_month.items())
        if len(prices) >= min_weeks
    ]


def _month_number(day: date) -> int:
    return day.year * 12 + day.month - 1


def _consecutive(series: MonthlySeries) -> list[tuple[date, Decimal]]:
    items = list(series)
    for (before, _), (after, _) in zip(items, items[1:], strict=False):
        if _month_number(after) != _month_number(before) + 1:
            raise IndicatorError(
                NOT_CONSECUTIVE,
                f"{after:%Y-%m} does not follow {before:%Y-%m}: one price per month, in order, no gaps",
            )
    return items


# --------------------------------------------------------------------------- median and IQR


class Summary(NamedTuple):
    """Median and quartiles; unpacks as ``(median, q1, q3)``."""

    median: Decimal
    q1: Decimal
    q3: Decimal

    @property
    def iqr(self) -> Decimal:
        return self.q3 - self.q1


# Digits for sums of weights that must not round (kg with 3 decimals summed over millions
# of rows need far fewer; the default context's 28 would do, this leaves no doubt).
_EXACT_PRECISION = 80


def _decimal(value: Decimal | int | float | str) -> Decimal:
    if isinstance(value, float):
        # Through the shortest repr: Decimal(0.1) would carry the binary expansion.
        return Decimal(repr(value))
    return Decimal(value)


def quantile(values: Sequence[Decimal], p: Fraction | Decimal | int | str) -> Decimal:
    """The ``p``-quantile (0 <= p <= 1) by linear interpolation between order statistics.

    Definition (Hyndman-Fan type 7, numpy's default ``method="linear"``, identical to
    ``statistics.quantiles(method="inclusive")``): sort the n values x[0] <= ... <= x[n-1],
    let h = (n - 1) * p, then Q(p) = x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h]).
    So Q(0) is the minimum, Q(1) the maximum, Q(0.5) the usual median.

    Arithmetic is ``Decimal``; it is exact whenever h - floor h has a terminating decimal
    expansion, which is always the case for quartiles (0, 1/4, 1/2 or 3/4) and within the
    28-digit context for values of ordinary size.
    """
    if not values:
        raise IndicatorError(NO_DATA, "no values")
    fraction = Fraction(str(p)) if isinstance(p, Decimal | str) else Fraction(p)
    if not 0 <= fraction <= 1:
        raise IndicatorError(INVALID_ARGUMENT, f"quantile {p} outside [0, 1]")
    ordered = sorted(_decimal(v) for v in values)
    position = (len(ordered) - 1) * fraction
    below = math.floor(position)
    rest = position - below
    if rest == 0:
        return ordered[below]
    weight = Decimal(rest.numerator) / Decimal(rest.denominator)
    return ordered[below] + weight * (ordered[below + 1] - ordered[below])


def median_iqr(values: Sequence[Decimal]) -> Summary:
    """Median, first and third quartile of ``values`` under :func:`quantile`'s definition."""
    return Summary(
        quantile(values, Fraction(1, 2)),
        quantile(values, Fraction(1, 4)),
        quantile(values, Fraction(3, 4)),
    )


def _weighted_pairs(values: Sequence[Decimal], weights: Sequence[Decimal | int]) -> list[tuple[Decimal, Decimal]]:
    """(value, weight) with a positive weight, sorted by value; zero weights are dropped,
    negative weights and a length mismatch refused, nothing left is NO_DATA."""
    if len(values) != len(weights):
        raise IndicatorError(INVALID_ARGUMENT, "values and weights differ in length")
    pairs = []
    for value, weight in zip(values, weights, strict=True):
        weight = _decimal(weight)
        if weight < 0:
            raise IndicatorError(INVALID_ARGUMENT, "negative weight")
        if weight > 0:
            pairs.append((_decimal(value), weight))
    if not pairs:
        raise IndicatorError(NO_DATA, "no value with a positive weight")
    pairs.sort(key=lambda pair: pair[0])
    return pairs


def weighted_quantile(
    values: Sequence[Decimal], weights: Sequence[Decimal | int], p: Fraction | Decimal | int | str
) -> Decimal:
    """The ``p``-quantile of values carrying weights (e.g. prices weighted by kg traded).

    Definition (inverted cumulative distribution, numpy's ``method="inverted_cdf"`` with
    ``weights=``): sort by value, and return the first value whose cumulative weight
    reaches p times the total weight. The answer is always one of the values, so it is
    exact. With integer weights it equals the same quantile of the list in which each value
    is repeated weight times. Note this is a step function, not the interpolation of
    :func:`quantile`: with equal weights the two can differ. Zero weights are ignored;
    negative weights are refused.
    """
    fraction = Fraction(str(p)) if isinstance(p, Decimal | str) else Fraction(p)
    if not 0 <= fraction <= 1:
        raise IndicatorError(INVALID_ARGUMENT, f"quantile {p} outside [0, 1]")
    pairs = _weighted_pairs(values, weights)
    total = sum((weight for _value, weight in pairs), Decimal(0))
    target = Fraction(total) * fraction
    cumulative = Decimal(0)
    for value, weight in pairs:
        cumulative += weight
        if Fraction(cumulative) >= target:
            return value
    return pairs[-1][0]


def weighted_median_iqr(values: Sequence[Decimal], weights: Sequence[Decimal | int]) -> Summary:
    """Weighted median and quartiles under :func:`weighted_quantile`'s definition.

    Equal to three :func:`weighted_quantile` calls, in one sort and one pass: the k-th
    quartile is the first value whose cumulative weight c satisfies 4c >= k * total, compared
    exactly in decimal arithmetic wide enough never to round (dashboards call this for every
    month of every series, so the per-step :class:`~fractions.Fraction` is avoided).
    """
    pairs = _weighted_pairs(values, weights)
    found: list[Decimal] = []
    with localcontext() as context:
        context.prec = _EXACT_PRECISION
        total = sum((weight for _value, weight in pairs), Decimal(0))
        targets = [total, 2 * total, 3 * total]  # k * total for the quartiles k = 1, 2, 3
        cumulative = Decimal(0)
        for value, weight in pairs:
            cumulative += weight
            while len(found) < 3 and 4 * cumulative >= targets[len(found)]:
                found.append(value)
            if len(found) == 3:
                break
    while len(found) < 3:  # unreachable with exact sums; mirrors weighted_quantile's fallback
        found.append(pairs[-1][0])
    q1, median, q3 = found
    return Summary(median, q1, q3)


# --------------------------------------------------------------------------- bands


def _finite(value: float | Decimal) -> None:
    finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
    if not finite:
        raise IndicatorError(INVALID_ARGUMENT, f"{value} is not a finite number")


def band_alps(value: float | Decimal) -> Literal["normal", "stress", "alert", "crisis"]:
    """WFP ALPS band, lower bounds inclusive: normal < 0.25 <= stress < 1 <= alert < 2 <= crisis.

    ALPS is signed; the bands only grade prices above their seasonal trend, so any
    negative value (a price below trend) is "normal". The value itself keeps its sign.
    """
    _finite(value)
    if value >= ALPS_CRISIS:
        return "crisis"
    if value >= ALPS_ALERT:
        return "alert"
    if value >= ALPS_STRESS:
        return "stress"
    return "normal"


def band_ipa(value: float | Decimal) -> Literal["normal", "moderate", "high"]:
    """FAO GIEWS IPA band: normal < 0.5 <= moderate ("moderately high") < 1 <= high ("abnormally high").

    As for ALPS, low (negative) values are "normal": the indicator watches for high prices.
    """
    _finite(value)
    if value >= IPA_HIGH:
        return "high"
    if value >= IPA_MODERATE:
        return "moderate"
    return "normal"


def transaction_flag(
    price: Decimal,
    reference: Decimal,
    low: Decimal = Decimal("0.5"),
    high: Decimal = Decimal("2"),
) -> Literal["low", "high"] | None:
    """Flag one transaction priced far from a reference price (e.g. the SIPSA wholesale price).

    "low" when price < low x reference (a price that low can mean a producer is being
    exploited), "high" when price > high x reference (a price that high can hide money
    laundering), None otherwise. The thresholds themselves are not flagged: with the
    defaults, exactly half or exactly double the reference passes. Exact ``Decimal``
    comparisons (floats are taken through their shortest repr). The reference must be
    positive and 0 <= low <= high.
    """
    price, reference, low, high = (_decimal(x) for x in (price, reference, low, high))
    for value in (price, reference, low, high):
        _finite(value)
    if reference <= 0:
        raise IndicatorError(INVALID_ARGUMENT, "the reference price must be positive")
    if price < 0:
        raise IndicatorError(INVALID_ARGUMENT, "a price cannot be negative")
    if not 0 <= low <= high:
        raise IndicatorError(INVALID_ARGUMENT, "thresholds must satisfy 0 <= low <= high")
    if price < low * reference:
        return "low"
    if price > high * reference:
        return "high"
    return None


# --------------------------------------------------------------------------- WFP ALPS


@dataclass(frozen=True)
class AlpsPoint:
    month: date
    price: Decimal  # as given
    fitted: float  # the seasonal trend ("normal" price) at this month
    value: float  # ALPS: (price - fitted) / residual standard deviation, signed
    band: str  # band_alps(value)


def _solve(matrix: list[list[float]], rhs: list[float]) -> list[float]:
    """Solve a small dense system by Gaussian elimination with partial pivoting."""
    size = len(rhs)
    rows = [list(row) + [b] for row, b in zip(matrix, rhs, strict=True)]
    scale = max(abs(x) for row in matrix for x in row) or 1.0
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(rows[r][col]))
        if abs(rows[pivot][col]) <= 1e-13 * scale:
            raise IndicatorError(SINGULAR_SYSTEM, "the regression has no unique solution")
        rows[col], rows[pivot] = rows[pivot], rows[col]
        head = rows[col]
        for r in range(col + 1, size):
            factor = rows[r][col] / head[col]
            if factor:
                row = rows[r]
                for c in range(col, size + 1):
                    row[c] -= factor * head[c]
    solution = [0.0] * size
    for r in reversed(range(size)):
        tail = math.fsum(rows[r][c] * solution[c] for c in range(r + 1, size))
        solution[r] = (rows[r][size] - tail) / rows[r][r]
    return solution


def _least_squares(design: list[list[float]], target: list[float]) -> list[float]:
    """OLS coefficients through the normal equations X'X b = X'y, plus one refinement step."""
    k = len(design[0])
    columns = list(zip(*design, strict=True))
    gram = [
        [math.fsum(a * b for a, b in zip(columns[i], columns[j], strict=True)) for j in range(k)]
        for i in range(k)
    ]

    def project(vector: list[float]) -> list[float]:
        return [math.fsum(a * v for a, v in zip(column, vector, strict=True)) for column in columns]

    coefficients = _solve(gram, project(target))
    # Forming X'X squares the condition number; one step of iterative refinement on the
    # residual wins the lost digits back at the cost of one more 13 x 13 solve.
    residuals = [
        y - math.fsum(x * b for x, b in zip(row, coefficients, strict=True))
        for row, y in zip(design, target, strict=True)
    ]
    correction = _solve(gram, project(residuals))
    return [b + d for b, d in zip(coefficients, correction, strict=True)]


def alps(series: MonthlySeries, min_years: int = 3, *, ddof: int = 1) -> list[AlpsPoint]:
    """WFP Alert for Price Spikes for every month of a monthly price series.

    Model, fitted once over the whole series by ordinary least squares on price levels:
    P_t = a + b * t + sum_{m=Feb..Dec} c_m * [month of t = m] + e_t, i.e. an intercept, a
    linear time trend and 11 calendar-month dummies (January is the base month) - 13
    coefficients. The trend is measured in years from the middle of the series, which only
    improves the conditioning: the fitted values do not depend on that choice. The system
    is solved by Gaussian elimination on the normal equations, in float.

    ALPS_t = (P_t - fitted_t) / s, where s is the standard deviation of the residuals:
    sqrt(sum (e_t - mean e)^2 / (n - ddof)). The default ``ddof=1`` is the plain sample
    standard deviation of the residual series (what "standard deviation of the residuals"
    says; with an intercept mean e = 0, so s = sqrt(SSR / (n - 1))). Pass ``ddof=13`` for the
    regression's residual standard error sqrt(SSR / (n - k)), which gives smaller values.
    A series the model fits exactly (s negligible against the prices) gets ALPS 0.

    Needs ``12 * min_years`` consecutive months at least (36 by default; ``min_years`` >= 2
    so that there are more months than coefficients), else raises ``IndicatorError`` with
    code ``"not_enough_history"``; gaps raise ``"not_consecutive"``.
    """
    if min_years < 2:
        raise IndicatorError(INVALID_ARGUMENT, "min_years must be at least 2")
    items = _consecutive(series)
    n = len(items)
    if n < 12 * min_years:
        raise IndicatorError(
            NOT_ENOUGH_HISTORY,
            f"ALPS needs {12 * min_years} consecutive months, the series has {n}",
        )
    if not 0 <= ddof < n:
        raise IndicatorError(INVALID_ARGUMENT, "ddof must be between 0 and the number of months")
    middle = (n - 1) / 2
    design = []
    for i, (month, _price) in enumerate(items):
        dummies = [1.0 if month.month == m else 0.0 for m in range(2, 13)]
        design.append([1.0, (i - middle) / 12, *dummies])
    prices = [float(price) for _month, price in items]
    coefficients = _least_squares(design, prices)
    fitted = [math.fsum(x * b for x, b in zip(row, coefficients, strict=True)) for row in design]
    residuals = [p - f for p, f in zip(prices, fitted, strict=True)]
    mean_residual = math.fsum(residuals) / n
    spread = math.sqrt(math.fsum((e - mean_residual) ** 2 for e in residuals) / (n - ddof))
    negligible = spread <= 1e-12 * max(abs(p) for p in prices)
    points = []
    for (month, price), trend, residual in zip(items, fitted, residuals, strict=True):
        value = 0.0 if negligible else residual / spread
        points.append(AlpsPoint(month, price, trend, value, band_alps(value)))
    return points


# --------------------------------------------------------------------------- FAO GIEWS IPA


@dataclass(frozen=True)
class IpaPoint:
    month: date
    price: Decimal  # as given
    quarterly_growth: float | None  # CQGR_t, None for the first 3 months
    annual_growth: float | None  # CAGR_t, None for the first 12 months
    value: float | None  # IPA, None while history is too short for this calendar month
    band: str | None  # band_ipa(value), None with value


def _weighted_mean_sd(values: list[float], weights: list[float]) -> tuple[float, float]:
    total = math.fsum(weights)
    mean = math.fsum(w * x for w, x in zip(weights, values, strict=True)) / total
    count = len(values)
    spread = math.fsum(w * (x - mean) ** 2 for w, x in zip(weights, values, strict=True))
    return mean, math.sqrt(spread / (total * (count - 1) / count))


def _standardised(
    growth: list[float | None], index: int, min_observations: int, weighting: str
) -> float | None:
    history = [g for g in growth[index % 12 : index + 1 : 12] if g is not None]
    if growth[index] is None or len(history) < min_observations:
        return None
    weights = (
        [1.0] * len(history)
        if weighting == "equal"
        else [float(k) for k in range(1, len(history) + 1)]
    )
    mean, spread = _weighted_mean_sd(history, weights)
    if spread <= 1e-12:
        # Every same-month growth rate is the same, so this one equals the mean: no anomaly.
        return 0.0
    return (growth[index] - mean) / spread


def ipa(
    series: MonthlySeries,
    *,
    min_observations: int = 3,
    quarterly_weight: float = IPA_QUARTERLY_WEIGHT,
    weighting: Literal["equal", "linear"] = "equal",
) -> list[IpaPoint]:
    """FAO GIEWS Indicator of Price Anomalies (SDG 2.c.1) for every month of a monthly series.

    Growth rates (float): CQGR_t = (P_t / P_{t-3})^(1/3) - 1 and CAGR_t = (P_t / P_{t-12})^(1/12) - 1.

    Each is standardised against the same calendar month: z_t = (g_t - mean) / sd over the
    growth rates of that calendar month from the start of the series up to and including
    t. Only the past and present are used, so a published value does not change when new
    months arrive (FAO's published figures use the whole history instead; FAO's exact year
    weights were not available to us, hence the documented choice below). A consequence:
    with N observations including t, |z_t| <= (N - 1) / sqrt(N) (1.15 for N = 3, 1.5 for N = 4).

    The mean and standard deviation are weighted (Baquedano, FAO 2015, eq. 4-5):
    mean = sum w x / sum w and sd = sqrt(sum w (x - mean)^2 / (sum w * (N - 1) / N)).
    ``weighting="equal"`` (default) gives every year weight 1, so these are the ordinary mean
    and sample (N - 1) standard deviation; ``"linear"`` gives the k-th oldest year weight k,
    favouring recent years. When the sd is 0 (all same-month growth rates equal) z is 0.

    IPA_t = quarterly_weight * z(CQGR_t) + (1 - quarterly_weight) * z(CAGR_t), FAO's 0.4 / 0.6
    by default. A month gets a value once its calendar month has ``min_observations`` annual
    growth rates (so from month 12 * min_observations on, counting from 0); earlier
    points carry the growth rates they have and ``value=None``.

    Raises ``IndicatorError``: ``"not_enough_history"`` when no month can get a value (fewer
    than 12 * min_observations + 1 months), ``"not_consecutive"``, ``"non_positive_price"``.
    """
    if min_observations < 2:
        raise IndicatorError(INVALID_ARGUMENT, "min_observations must be at least 2")
    if weighting not in ("equal", "linear"):
        raise IndicatorError(INVALID_ARGUMENT, f"unknown weighting {weighting!r}")
    if not 0 <= quarterly_weight <= 1:
        raise IndicatorError(INVALID_ARGUMENT, "quarterly_weight must be within [0, 1]")
    items = _consecutive(series)
    n = len(items)
    if n < 12 * min_observations + 1:
        raise IndicatorError(
            NOT_ENOUGH_HISTORY,
            f"IPA needs {12 * min_observations + 1} consecutive months, the series has {n}",
        )
    for month, price in items:
        if price <= 0:
            raise IndicatorError(
                NON_POSITIVE_PRICE, f"price {price} in {month:%Y-%m} is not positive"
            )
    prices = [float(price) for _month, price in items]

    def growth(lag: int) -> list[float | None]:
        return [
            None if i < lag else (prices[i] / prices[i - lag]) ** (1 / lag) - 1 for i in range(n)
        ]

    quarterly, annual = growth(3), growth(12)
    points = []
    for i, (month, price) in enumerate(items):
        zq = _standardised(quarterly, i, min_observations, weighting)
        za = _standardised(annual, i, min_observations, weighting)
        value = (
            None
            if zq is None or za is None
            else quarterly_weight * zq + (1 - quarterly_weight) * za
        )
        band = None if value is None else band_ipa(value)
        points.append(IpaPoint(month, price, quarterly[i], annual[i], value, band))
    return points
