"""Airline names for the report's labels: the offers carry IATA codes only ("TK").

A small reference list of carriers that fly between Russia and the Gulf (and the simulator's
ones); an unknown code is shown as it is.
"""

from __future__ import annotations

AIRLINE_NAMES = {
    "DP": "Pobeda",
    "EK": "Emirates",
    "EY": "Etihad Airways",
    "FZ": "flydubai",
    "G9": "Air Arabia",
    "QR": "Qatar Airways",
    "S7": "S7 Airlines",
    "SU": "Aeroflot",
    "TK": "Turkish Airlines",
    "U6": "Ural Airlines",
    "UT": "UTair",
    "WZ": "Red Wings",
}


def airline_label(code: str | None) -> str:
    """`Turkish Airlines (TK)` for a known code, the code itself otherwise."""
    if not code:
        return "-"
    name = AIRLINE_NAMES.get(code.upper())
    return f"{name} ({code})" if name else code
