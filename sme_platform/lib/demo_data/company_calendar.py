"""When the company sells: location types, weekly profile, public holidays and opening hours."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import numpy as np

STORE, WAREHOUSE, ONLINE = 0, 1, 2
LOCATION_TYPE_NAMES = ("STORE", "WAREHOUSE", "ONLINE")

HOUR = 3600

# Relative demand Monday..Sunday per location type, scaled to a weekly mean of 1 below.
_WEEKLY_RAW = (
    (0.85, 0.80, 0.85, 0.90, 1.10, 1.55, 1.20),  # STORE: Saturday peak, shorter Sunday hours
    (1.30, 1.25, 1.20, 1.20, 1.10, 0.30, 0.00),  # WAREHOUSE: trade customers order on weekdays
    (1.15, 1.05, 1.00, 0.95, 0.90, 0.85, 1.10),  # ONLINE: browsing peaks Sunday and Monday
)
WEEKLY_FACTORS = np.array(_WEEKLY_RAW) / np.array(_WEEKLY_RAW).mean(axis=1, keepdims=True)

NORMAL, HOLIDAY, SHORT, CLOSED = "normal", "holiday", "short", "closed"

# Demand factor per location type (STORE, WAREHOUSE, ONLINE) by kind of day. On a public holiday
# stores open with Sunday hours, the warehouse (trade counter) is closed and people shop online.
DAY_KIND_FACTORS = {
    NORMAL: np.array([1.0, 1.0, 1.0]),
    HOLIDAY: np.array([0.75, 0.0, 1.15]),
    SHORT: np.array([0.9, 0.3, 0.8]),
    CLOSED: np.array([0.0, 0.0, 0.0]),
}

# Everything is closed on these days, the online shop included: no sales lines at all.
CLOSED_MONTH_DAYS = ((12, 25), (1, 1))
SHORT_MONTH_DAYS = ((12, 24), (12, 31))


def easter_sunday(year: int) -> date:
    """Easter Sunday in the Gregorian calendar (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday_shift = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday_shift) // 451
    month, day = divmod(h + weekday_shift - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def public_holidays(year: int) -> dict[date, str]:
    """The fixed list of public holidays the company observes in `year`."""
    easter = easter_sunday(year)
    holidays = {
        date(year, 1, 1): "New Year's Day",
        easter - timedelta(days=2): "Good Friday",
        easter + timedelta(days=1): "Easter Monday",
        date(year, 5, 1): "Labour Day",
        easter + timedelta(days=39): "Ascension Day",
        easter + timedelta(days=50): "Whit Monday",
        date(year, 12, 24): "Christmas Eve",
        date(year, 12, 25): "Christmas Day",
        date(year, 12, 26): "Boxing Day",
        date(year, 12, 31): "New Year's Eve",
    }
    return dict(sorted(holidays.items()))


def day_kind(day: date) -> str:
    if (day.month, day.day) in CLOSED_MONTH_DAYS:
        return CLOSED
    if (day.month, day.day) in SHORT_MONTH_DAYS:
        return SHORT
    if day in public_holidays(day.year):
        return HOLIDAY
    return NORMAL


def opening_hours(day: date) -> np.ndarray:
    """Opening and closing time in seconds after midnight per location type, shape (3, 2).

    A closed location has opening == closing.
    """
    kind = day_kind(day)
    weekday = day.weekday()
    if kind == CLOSED:
        return np.zeros((3, 2), dtype=np.int64)
    if kind == SHORT:
        store, warehouse = (9, 14), (7, 12)
    elif kind == HOLIDAY or weekday == 6:
        store, warehouse = (10, 18), (0, 0)
    elif weekday == 5:
        store, warehouse = (9, 20), (8, 13)
    else:
        store, warehouse = (9, 20), (7, 17)
    hours = np.array([store, warehouse, (0, 24)], dtype=np.int64)
    return hours * HOUR


def holidays_between(first_day: date, last_day: date) -> list[dict[str, str]]:
    """Holidays in [first_day, last_day] with their kind, for the manifest."""
    found = []
    for year in range(first_day.year, last_day.year + 1):
        for day, name in public_holidays(year).items():
            if first_day <= day <= last_day:
                found.append({"date": day.isoformat(), "name": name, "kind": day_kind(day)})
    return found
