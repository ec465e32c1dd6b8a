"""Price-anomaly indicators checked against independent numpy computations and by hand."""

from __future__ import annotations

import ast
import math
import random
import statistics
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from marketplace.catalog import sipsa
from marketplace.insights import indicators as ind

HASS_BOGOTA = ("Aguacate Hass", "Bogotá, D.C., Corabastos")
MODULE = Path(ind.__file__)


def months_from(start: date, count: int) -> list[date]:
    return [
        date(start.year + (start.month - 1 + i) // 12, (start.month - 1 + i) % 12 + 1, 1)
        for i in range(count)
    ]


def flat_series(count: int, start: date = date(2015, 1, 1)) -> list[tuple[date, Decimal]]:
    rng = random.Random(count)
    return [(m, Decimal(1000 + rng.randint(0, 200))) for m in months_from(start, count)]


@pytest.fixture(scope="module")
def hass() -> list[tuple[date, Decimal]]:
    return ind.monthly_from_weekly(sipsa.series()[HASS_BOGOTA])


# --------------------------------------------------------------------------- purity


def test_module_imports_only_the_standard_library():
    tree = ast.parse(MODULE.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_module_loads_without_numpy_or_flask():
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('indicators', {str(MODULE)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "sys.modules['indicators'] = module\n"
        "spec.loader.exec_module(module)\n"
        "assert not {'numpy', 'flask', 'sqlalchemy'} & set(sys.modules), 'heavy import'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- monthly series


def test_monthly_from_weekly_averages_the_weeks_starting_in_each_month(hass):
    weeks = sipsa.series()[HASS_BOGOTA]
    assert len(hass) == 49
    assert hass[0][0] == date(2014, 12, 1) and hass[-1][0] == date(2018, 12, 1)
    assert [m for m, _ in hass] == months_from(date(2014, 12, 1), 49)
    for month, price in hass:
        inside = [
            w.mean
            for w in weeks
            if (w.week_start.year, w.week_start.month) == (month.year, month.month)
        ]
        assert Fraction(price) == pytest.approx(
            Fraction(sum(inside)) / len(inside), rel=Decimal("1e-25")
        )
    # December 2014 holds the single week starting 2014-12-27.
    assert hass[0][1] == weeks[0].mean and weeks[0].week_start == date(2014, 12, 27)


def test_monthly_from_weekly_by_hand_and_min_weeks():
    def week(day: date, mean: str) -> sipsa.WeeklyPrice:
        return sipsa.WeeklyPrice(
            day, day + timedelta(days=6), Decimal(mean), Decimal(mean), Decimal(mean)
        )

    weeks = [
        week(date(2020, 2, 3), "120"),
        week(date(2020, 1, 27), "100"),  # starts in January although it ends in February
        week(date(2020, 2, 10), "130"),
        week(date(2020, 2, 17), "141"),
    ]
    assert ind.monthly_from_weekly(weeks) == [
        (date(2020, 1, 1), Decimal("100")),
        (date(2020, 2, 1), Decimal("130.3333333333333333333333333")),
    ]
    assert ind.monthly_from_weekly(weeks, min_weeks=2) == [(date(2020, 2, 1), Decimal("391") / 3)]
    assert ind.monthly_from_weekly([]) == []


# --------------------------------------------------------------------------- ALPS


def numpy_alps(series, ddof):
    """Same model, parameterised differently: 12 month intercepts (no common one) and a
    trend counted in months from the first observation, solved by numpy's SVD lstsq."""
    y = np.array([float(p) for _, p in series])
    design = np.zeros((len(y), 13))
    design[:, 0] = np.arange(len(y))
    for row, (month, _) in enumerate(series):
        design[row, month.month] = 1.0
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    fitted = design @ coefficients
    residuals = y - fitted
    return fitted, residuals / np.std(residuals, ddof=ddof)


@pytest.mark.parametrize("ddof", [1, 13])
def test_alps_on_sipsa_avocado_matches_numpy_lstsq(hass, ddof):
    points = ind.alps(hass, ddof=ddof)
    fitted, values = numpy_alps(hass, ddof)
    assert [p.month for p in points] == [m for m, _ in hass]
    assert [p.price for p in points] == [p for _, p in hass]
    np.testing.assert_allclose([p.fitted for p in points], fitted, rtol=1e-9, atol=0)
    np.testing.assert_allclose([p.value for p in points], values, rtol=1e-9, atol=0)
    assert [p.band for p in points] == [ind.band_alps(v) for v in values]


def test_alps_default_uses_the_sample_standard_deviation_of_residuals(hass):
    default = [p.value for p in ind.alps(hass)]
    n_minus_k = [p.value for p in ind.alps(hass, ddof=13)]
    # sqrt((n - 1) / (n - k)) with n = 49 months and k = 13 coefficients.
    np.testing.assert_allclose(
        np.array(default) / np.array(n_minus_k), math.sqrt(48 / 36), rtol=1e-12
    )
    residual_scaled = np.array(default)
    assert abs(residual_scaled.mean()) < 1e-9
    assert np.std(residual_scaled, ddof=1) == pytest.approx(1.0, rel=1e-12)


def test_alps_flags_a_planted_spike_as_crisis():
    rng = random.Random(2024)
    months = months_from(date(2015, 1, 1), 48)
    series = []
    for i, month in enumerate(months):
        price = (
            2000 + 15 * i + 250 * math.sin(2 * math.pi * month.month / 12) + rng.uniform(-40, 40)
        )
        if i == 30:
            price += 1200
        series.append((month, Decimal(str(round(price, 2)))))
    points = ind.alps(series)
    assert points[30].band == "crisis"
    assert points[30].value >= 2
    assert [i for i, p in enumerate(points) if p.band == "crisis"] == [30]
    # The same series without the spike: nothing near crisis.
    calm = [(m, p - (1200 if i == 30 else 0)) for i, (m, p) in enumerate(series)]
    assert max(p.value for p in ind.alps(calm)) < 2


def test_alps_needs_three_years_of_consecutive_months():
    with pytest.raises(ind.IndicatorError) as caught:
        ind.alps(flat_series(35))
    assert caught.value.code == "not_enough_history"
    assert len(ind.alps(flat_series(36))) == 36
    with pytest.raises(ind.IndicatorError) as caught:
        ind.alps(flat_series(47), min_years=4)
    assert caught.value.code == "not_enough_history"
    gap = flat_series(40)
    del gap[20]
    with pytest.raises(ind.IndicatorError) as caught:
        ind.alps(gap)
    assert caught.value.code == "not_consecutive"
    shuffled = flat_series(40)
    shuffled[3], shuffled[4] = shuffled[4], shuffled[3]
    with pytest.raises(ind.IndicatorError) as caught:
        ind.alps(shuffled)
    assert caught.value.code == "not_consecutive"


def test_alps_of_an_exact_trend_and_season_is_zero():
    series = [
        (m, Decimal(1000 + 7 * i + 30 * (m.month % 4)))
        for i, m in enumerate(months_from(date(2016, 3, 1), 40))
    ]
    points = ind.alps(series)
    assert all(p.value == 0.0 and p.band == "normal" for p in points)
    assert [p.fitted for p in points] == pytest.approx([float(p) for _, p in series], rel=1e-12)


# --------------------------------------------------------------------------- IPA


def reference_ipa(series, min_observations=3, weighting="equal"):
    """Log-difference growth rates and per-calendar-month running pools, vectorised."""
    logs = np.log(np.array([float(p) for _, p in series]))
    n = len(logs)
    quarterly = np.full(n, np.nan)
    annual = np.full(n, np.nan)
    quarterly[3:] = np.expm1((logs[3:] - logs[:-3]) / 3)
    annual[12:] = np.expm1((logs[12:] - logs[:-12]) / 12)
    calendar = np.array([m.month for m, _ in series])

    def score(growth, t):
        pool = growth[(np.arange(n) <= t) & (calendar == calendar[t]) & ~np.isnan(growth)]
        if np.isnan(growth[t]) or pool.size < min_observations:
            return np.nan
        if weighting == "equal":
            return (growth[t] - pool.mean()) / pool.std(ddof=1)
        w = np.arange(1, pool.size + 1, dtype=float)
        mean = np.average(pool, weights=w)
        sd = np.sqrt(np.sum(w * (pool - mean) ** 2) / (w.sum() * (pool.size - 1) / pool.size))
        return (growth[t] - mean) / sd

    values = np.array([0.4 * score(quarterly, t) + 0.6 * score(annual, t) for t in range(n)])
    return quarterly, annual, values


@pytest.mark.parametrize("weighting", ["equal", "linear"])
def test_ipa_on_sipsa_avocado_matches_an_independent_computation(hass, weighting):
    points = ind.ipa(hass, weighting=weighting)
    quarterly, annual, values = reference_ipa(hass, weighting=weighting)
    got_q = np.array([np.nan if p.quarterly_growth is None else p.quarterly_growth for p in points])
    got_a = np.array([np.nan if p.annual_growth is None else p.annual_growth for p in points])
    got_v = np.array([np.nan if p.value is None else p.value for p in points])
    np.testing.assert_allclose(got_q, quarterly, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(got_a, annual, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(got_v, values, rtol=1e-9, atol=1e-12)
    # Values start once each calendar month has 3 annual growth rates: month 36 of 49.
    assert [i for i, p in enumerate(points) if p.value is not None] == list(range(36, 49))
    assert all(p.band == ind.band_ipa(p.value) for p in points if p.value is not None)
    assert all(p.band is None for p in points if p.value is None)
    assert points[2].quarterly_growth is None and points[3].quarterly_growth is not None
    assert points[11].annual_growth is None and points[12].annual_growth is not None


def test_ipa_growth_rates_by_hand():
    series = [(m, Decimal(100)) for m in months_from(date(2015, 1, 1), 37)]
    series[15] = (series[15][0], Decimal("133.1"))  # 1.1 ** 3 over three months
    series[36] = (series[36][0], Decimal(200))
    points = ind.ipa(series)
    assert points[15].quarterly_growth == pytest.approx(0.1, rel=1e-12)
    assert points[36].annual_growth == pytest.approx(2 ** (1 / 12) - 1, rel=1e-12)
    # Doubling in a year against two flat years: the largest z three observations allow.
    assert points[36].value == pytest.approx(0.4 * 2 / math.sqrt(3) + 0.6 * 2 / math.sqrt(3))
    assert points[36].band == "high"


def test_ipa_of_a_flat_series_is_zero_not_a_division_by_zero():
    points = ind.ipa([(m, Decimal("2500")) for m in months_from(date(2015, 1, 1), 40)])
    assert [p.value for p in points[36:]] == [0.0] * 4
    assert {p.band for p in points[36:]} == {"normal"}


def test_ipa_flags_a_planted_spike_as_high():
    rng = random.Random(99)
    series = []
    for i, month in enumerate(months_from(date(2015, 1, 1), 48)):
        price = (
            1500
            * 1.004**i
            * (1 + 0.1 * math.sin(2 * math.pi * month.month / 12))
            * rng.uniform(0.97, 1.03)
        )
        series.append((month, Decimal(str(round(price, 2)))))
    spiked = list(series)
    spiked[44] = (spiked[44][0], spiked[44][1] * 2)
    assert ind.ipa(spiked)[44].band == "high"
    assert ind.ipa(series)[44].band == "normal"


def test_ipa_needs_history_and_positive_prices():
    with pytest.raises(ind.IndicatorError) as caught:
        ind.ipa(flat_series(36))
    assert caught.value.code == "not_enough_history"
    points = ind.ipa(flat_series(37))
    assert [p.value is not None for p in points] == [False] * 36 + [True]
    with pytest.raises(ind.IndicatorError) as caught:
        ind.ipa(flat_series(48), min_observations=4)
    assert caught.value.code == "not_enough_history"
    zero = flat_series(40)
    zero[5] = (zero[5][0], Decimal(0))
    with pytest.raises(ind.IndicatorError) as caught:
        ind.ipa(zero)
    assert caught.value.code == "non_positive_price"
    gap = flat_series(40)
    del gap[10]
    with pytest.raises(ind.IndicatorError) as caught:
        ind.ipa(gap)
    assert caught.value.code == "not_consecutive"


# --------------------------------------------------------------------------- bands


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (-5.0, "normal"),
        (0.0, "normal"),
        (0.2499999, "normal"),
        (0.25, "stress"),
        (Decimal("0.25"), "stress"),
        (0.9999999, "stress"),
        (1.0, "alert"),
        (1.9999999, "alert"),
        (2.0, "crisis"),
        (Decimal("2"), "crisis"),
        (40.0, "crisis"),
    ],
)
def test_band_alps_boundaries(value, band):
    assert ind.band_alps(value) == band


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (-3.0, "normal"),
        (0.4999999, "normal"),
        (0.5, "moderate"),
        (Decimal("0.5"), "moderate"),
        (0.9999999, "moderate"),
        (1.0, "high"),
        (7.0, "high"),
    ],
)
def test_band_ipa_boundaries(value, band):
    assert ind.band_ipa(value) == band


def test_bands_refuse_nan():
    with pytest.raises(ind.IndicatorError):
        ind.band_alps(float("nan"))
    with pytest.raises(ind.IndicatorError):
        ind.band_ipa(Decimal("NaN"))


# --------------------------------------------------------------------------- median and IQR


@pytest.mark.parametrize("size", [2, 3, 4, 5, 6, 7, 10, 11, 49, 100])
def test_median_iqr_matches_numpy_linear_and_statistics_inclusive(size):
    rng = random.Random(size)
    values = [Decimal(rng.randint(100, 999_999)) / 100 for _ in range(size)]
    summary = ind.median_iqr(values)
    median, q1, q3 = summary
    assert (median, q1, q3) == (summary.median, summary.q1, summary.q3)
    assert summary.iqr == q3 - q1
    expected = np.percentile([float(v) for v in values], [50, 25, 75], method="linear")
    np.testing.assert_allclose([float(median), float(q1), float(q3)], expected, rtol=1e-12)
    # Exactly the rational statistics.quantiles computes on Fractions.
    exact_q1, exact_median, exact_q3 = statistics.quantiles(
        [Fraction(v) for v in values], n=4, method="inclusive"
    )
    assert (Fraction(q1), Fraction(median), Fraction(q3)) == (exact_q1, exact_median, exact_q3)


def test_median_iqr_by_hand():
    assert ind.median_iqr([Decimal("7")]) == (Decimal("7"), Decimal("7"), Decimal("7"))
    values = [Decimal(x) for x in ("4", "1", "3", "2")]
    # h = 3p: median between 2 and 3, q1 = 1 + 0.75 * 1, q3 = 3 + 0.25 * 1.
    assert ind.median_iqr(values) == (Decimal("2.5"), Decimal("1.75"), Decimal("3.25"))
    assert ind.quantile(values, 0) == 1 and ind.quantile(values, 1) == 4
    assert ind.quantile(values, Decimal("0.1")) == Decimal("1.3")
    with pytest.raises(ind.IndicatorError) as caught:
        ind.median_iqr([])
    assert caught.value.code == "no_data"
    with pytest.raises(ind.IndicatorError):
        ind.quantile(values, Decimal("1.5"))


@pytest.mark.parametrize("seed", range(6))
def test_weighted_median_iqr_matches_numpy_inverted_cdf(seed):
    rng = random.Random(seed)
    size = rng.randint(1, 30)
    values = [Decimal(rng.randint(500, 5000)) for _ in range(size)]
    weights = [rng.randint(0, 9) for _ in range(size)]
    weights[0] = max(weights[0], 1)
    summary = ind.weighted_median_iqr(values, weights)
    expected = np.quantile(
        np.array([float(v) for v in values]),
        [0.5, 0.25, 0.75],
        weights=np.array(weights, dtype=float),
        method="inverted_cdf",
    )
    assert [float(x) for x in summary] == list(expected)
    # Integer weights mean repeated values.
    repeated = sorted(v for v, w in zip(values, weights, strict=True) for _ in range(w))
    np.testing.assert_array_equal(
        [float(x) for x in summary],
        np.quantile([float(v) for v in repeated], [0.5, 0.25, 0.75], method="inverted_cdf"),
    )


def test_weighted_median_by_hand():
    values = [Decimal("10"), Decimal("20"), Decimal("30")]
    assert ind.weighted_median_iqr(values, [1, 1, 1]) == (
        Decimal("20"),
        Decimal("10"),
        Decimal("30"),
    )
    assert (
        ind.weighted_quantile(
            values, [Decimal("0.2"), Decimal("0.3"), Decimal("0.5")], Decimal("0.5")
        )
        == 20
    )
    assert ind.weighted_quantile(values, [1, 0, 5], Decimal("0.2")) == 30
    with pytest.raises(ind.IndicatorError):
        ind.weighted_quantile(values, [1, -1, 1], Decimal("0.5"))
    with pytest.raises(ind.IndicatorError) as caught:
        ind.weighted_quantile(values, [0, 0, 0], Decimal("0.5"))
    assert caught.value.code == "no_data"


# --------------------------------------------------------------------------- transactions


@pytest.mark.parametrize(
    ("price", "flag"),
    [
        ("0", "low"),
        ("49.99", "low"),
        ("50", None),
        ("50.01", None),
        ("100", None),
        ("200", None),
        ("200.01", "high"),
        ("10000", "high"),
    ],
)
def test_transaction_flag_default_thresholds(price, flag):
    assert ind.transaction_flag(Decimal(price), Decimal("100")) == flag


def test_transaction_flag_custom_thresholds_and_errors():
    reference = Decimal("2400")
    assert (
        ind.transaction_flag(Decimal("1679"), reference, low=Decimal("0.7"), high=Decimal("1.5"))
        == "low"
    )
    assert (
        ind.transaction_flag(Decimal("1680"), reference, low=Decimal("0.7"), high=Decimal("1.5"))
        is None
    )
    assert (
        ind.transaction_flag(Decimal("3600"), reference, low=Decimal("0.7"), high=Decimal("1.5"))
        is None
    )
    assert (
        ind.transaction_flag(Decimal("3601"), reference, low=Decimal("0.7"), high=Decimal("1.5"))
        == "high"
    )
    for bad in (
        {"price": Decimal("1"), "reference": Decimal("0")},
        {"price": Decimal("-1"), "reference": Decimal("10")},
        {
            "price": Decimal("1"),
            "reference": Decimal("10"),
            "low": Decimal("3"),
            "high": Decimal("2"),
        },
    ):
        with pytest.raises(ind.IndicatorError) as caught:
            ind.transaction_flag(**bad)
        assert caught.value.code == "invalid_argument"


@pytest.mark.parametrize("seed", range(8))
def test_weighted_median_iqr_equals_three_weighted_quantiles(seed):
    """The one-pass summary agrees with the definition, including on quartile boundaries."""
    rng = random.Random(1000 + seed)
    size = rng.randint(1, 40)
    values = [Decimal(rng.randint(1, 12)) * 250 for _ in range(size)]  # many ties
    # Decimal kg weights with three places, some of them zero; boundaries hit often when
    # all weights are equal, so half the seeds use equal weights.
    if seed % 2:
        weights = [Decimal(rng.randint(0, 4000)) / 1000 for _ in range(size)]
        weights[0] = max(weights[0], Decimal("0.001"))
    else:
        weights = [Decimal("2.5")] * size
    summary = ind.weighted_median_iqr(values, weights)
    assert summary == (
        ind.weighted_quantile(values, weights, Decimal("0.5")),
        ind.weighted_quantile(values, weights, Decimal("0.25")),
        ind.weighted_quantile(values, weights, Decimal("0.75")),
    )


def test_weighted_median_iqr_refuses_what_weighted_quantile_refuses():
    with pytest.raises(ind.IndicatorError) as caught:
        ind.weighted_median_iqr([Decimal(1)], [0])
    assert caught.value.code == "no_data"
    with pytest.raises(ind.IndicatorError):
        ind.weighted_median_iqr([Decimal(1), Decimal(2)], [1, -1])
    with pytest.raises(ind.IndicatorError):
        ind.weighted_median_iqr([Decimal(1)], [1, 2])
