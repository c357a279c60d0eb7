"""Which countries' public holidays the platform knows: those of the `holidays` package, offline.

A country is given as an ISO 3166 code (DE, GBR) or a market calendar's code the package knows
(NYSE, ECB: a wholesaler that trades on exchange days) in forecasting.yaml, or read from the
locations' `country` column, where an export may hold a name ("United Kingdom"). A name is
resolved to its code; anything else is unknown, and a configured unknown country is refused:
a model trained silently without holidays is the worse surprise.
"""

from __future__ import annotations

import re
from functools import cache

import holidays
from holidays.registry import COUNTRIES

EXAMPLE_CODES = "DE, GB, FR, NL, US"
ALIASES = {"UK": "GB"}


def country_code(value: str | None) -> str | None:
    """The ISO code of `value` (a code, any case, or an English country name), or None when the
    holidays package does not know it."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.upper() in _codes():
        return _codes()[text.upper()]
    if _calendar_exists(text.upper()):  # a market's calendar (NYSE, ECB), as before names
        return text.upper()
    return _codes_by_name().get(_name_key(text))


@cache
def _calendar_exists(code: str) -> bool:
    try:
        holidays.country_holidays(code, years=[2024])
    except NotImplementedError:
        return False
    return True


def country_problem(value: str) -> str | None:
    """Why `value` is not a country the holidays package knows (with the code it may mean), or
    None when it is one."""
    if country_code(value) is not None:
        return None
    return (
        f"{value!r} is not a country the holidays package knows: give its ISO 3166 code "
        f"(such as {EXAMPLE_CODES}), or leave holiday_country out to use the locations' country"
    )


@cache
def _codes() -> dict[str, str]:
    """Alpha-2 and alpha-3 codes (and UK, as exports write it) to the alpha-2 code."""
    supported = set(holidays.list_supported_countries())
    codes = {}
    for _, (_, alpha2, alpha3, *_) in COUNTRIES.items():
        if alpha2 in supported:
            codes[alpha2] = codes[alpha3] = alpha2
    return {**codes, **{alias: code for alias, code in ALIASES.items() if code in supported}}


@cache
def _codes_by_name() -> dict[str, str]:
    names = {}
    for module_name, (class_name, alpha2, *_) in COUNTRIES.items():
        if alpha2 in _codes():
            names[_name_key(module_name)] = names[_name_key(class_name)] = alpha2
    return names


def _name_key(name: str) -> str:
    """The same key for "United Kingdom", "united_kingdom" and "UnitedKingdom"."""
    return re.sub(r"[^a-z]", "", name.lower())
