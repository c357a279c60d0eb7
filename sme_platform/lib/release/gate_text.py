"""How the gate writes its numbers in the reasons an auditor reads."""

from __future__ import annotations


def money(value: float) -> str:
    return f"{value:,.1f}"


def ratio(value: float) -> str:
    return f"{value:.3f}"


def pct(share: float) -> str:
    return f"{share * 100:.3g} %"


def signed_pct(share: float) -> str:
    return f"{float(share) * 100:+.1f} %"
