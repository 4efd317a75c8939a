"""Numbers, units and dates written as values, so that an answer is compared with its reference by
what it says and not how it spells it: "5GB" = "5 GB" = "five gigabytes", "$12.00" = "12 dollars",
"2/5/20" = "February 5, 2020" = "2020-02-05", "8 a.m." = "08:00".

`canonical(text)` rewrites a text with every value it recognises in one spelling (dates as ISO
`2020-02-05`, numbers as digits without thousands separators or trailing zeros, units by one
name); the metric compares canonical texts. Written here rather than taken from a library:
the parsers that find dates in free text (dateparser, duckling) bring language models or
services, and what the metric needs is a few fixed spellings, each listed below.
"""
from __future__ import annotations

import calendar
import re

# number words up to twenty and the tens: what answers spell out ("five days", "thirty days")
_SMALL = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen " \
         "seventeen eighteen nineteen twenty".split()
_TENS = {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
         "hundred": 100}
NUMBER_WORDS = {w: i for i, w in enumerate(_SMALL)} | _TENS

# one name per unit; a currency symbol before a number is the same unit after it
UNITS = {
    "gb": "gb", "gigabyte": "gb", "gigabytes": "gb", "gig": "gb", "gigs": "gb",
    "mb": "mb", "megabyte": "mb", "megabytes": "mb", "tb": "tb", "terabyte": "tb", "terabytes": "tb",
    "kb": "kb", "kilobyte": "kb", "kilobytes": "kb",
    "%": "percent", "percent": "percent", "per cent": "percent", "pct": "percent",
    "$": "usd", "usd": "usd", "dollar": "usd", "dollars": "usd", "€": "eur", "eur": "eur", "euro": "eur",
    "euros": "eur", "£": "gbp", "gbp": "gbp", "pound": "gbp", "pounds": "gbp",
    "mg": "mg", "milligram": "mg", "milligrams": "mg", "g": "g", "gram": "g", "grams": "g", "kg": "kg",
    "kilogram": "kg", "kilograms": "kg", "ml": "ml", "millilitre": "ml", "millilitres": "ml", "milliliter": "ml",
    "milliliters": "ml", "mcg": "mcg", "microgram": "mcg", "micrograms": "mcg", "µg": "mcg",
    "day": "days", "days": "days", "hour": "hours", "hours": "hours", "hr": "hours", "hrs": "hours", "h": "hours",
    "minute": "minutes", "minutes": "minutes", "min": "minutes", "mins": "minutes", "week": "weeks",
    "weeks": "weeks", "month": "months", "months": "months", "year": "years", "years": "years", "yr": "years",
    "yrs": "years",
}
_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m} | \
          {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m} | {"sept": 9}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))

_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_SLASH = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})\b")  # US order, as contracts in English write it
_MONTH_FIRST = re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I)
_DAY_FIRST = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH})\.?,?\s+(\d{{4}})\b", re.I)

_UNIT_WORDS = "|".join(sorted((re.escape(u) for u in UNITS if u not in "$€£%"), key=len, reverse=True))
_CURRENCY_BEFORE = re.compile(r"([$€£])\s?(\d[\d,]*(?:\.\d+)?)")
_NUMBER_UNIT = re.compile(rf"(\d[\d,]*(?:\.\d+)?)\s?(%|{_UNIT_WORDS})(?![a-z])", re.I)
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
# a number word is read as a number only before a unit: "one of the plans" states no quantity
_NUMBER_WORD = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + rf")(?=[\s-]+(?:{_UNIT_WORDS})(?![a-z]))", re.I)


def _iso(year: str, month: int, day: int) -> str:
    y = int(year)
    if len(year) == 2:  # two-digit years: 00-49 are this century, as dateutil reads them
        y += 2000 if y < 50 else 1900
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return ""
    return f"{y:04d}-{month:02d}-{day:02d}"


def _dates(text: str) -> str:
    def keep(m, iso):
        return iso or m.group()

    text = _ISO.sub(lambda m: keep(m, _iso(m[1], int(m[2]), int(m[3]))), text)
    text = _SLASH.sub(lambda m: keep(m, _iso(m[3], int(m[1]), int(m[2]))), text)
    text = _MONTH_FIRST.sub(lambda m: keep(m, _iso(m[3], _MONTHS[m[1].lower()], int(m[2]))), text)
    return _DAY_FIRST.sub(lambda m: keep(m, _iso(m[3], _MONTHS[m[2].lower()], int(m[1]))), text)


def _number(digits: str) -> str:
    """'1,200.50' -> '1200.5', '12.00' -> '12'."""
    n = digits.replace(",", "")
    if "." in n:
        n = n.rstrip("0").rstrip(".")
    return n


_SPACED_THOUSANDS = re.compile(r"\b(\d{1,3})[ \u00a0\u202f](\d{3})\b(?![.,:]\d)")  # "50 000", as SI writes it
_CLOCK = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s?([ap])\.?m\b\.?", re.I)  # 8 a.m., 6pm, 10:30 AM
_HHMM = re.compile(r"\b(\d{1,2}):(\d{2})\b")


def _times(text: str) -> str:
    """Clock times as 24-hour HH:MM: "8 a.m." = "08:00", "6 pm" = "18:00"."""
    def clock(m):
        h, mins, half = int(m[1]), int(m[2] or 0), m[3].lower()
        if not (1 <= h <= 12 and mins < 60):
            return m.group()
        h = h % 12 + (12 if half == "p" else 0)
        return f"{h:02d}:{mins:02d}"

    text = _CLOCK.sub(clock, text)
    return _HHMM.sub(lambda m: f"{int(m[1]):02d}:{m[2]}" if int(m[1]) < 24 and int(m[2]) < 60 else m.group(), text)


def canonical(text: str) -> str:
    """The text with its dates, times, numbers and units in one spelling each (see the module doc)."""
    text = _times(_dates(_SPACED_THOUSANDS.sub(r"\1\2", text)))
    text = _NUMBER_WORD.sub(lambda m: str(NUMBER_WORDS[m[1].lower()]), text)
    text = _CURRENCY_BEFORE.sub(lambda m: f"{_number(m[2])} {UNITS[m[1]]}", text)
    text = _NUMBER_UNIT.sub(lambda m: f"{_number(m[1])} {UNITS[m[2].lower()]}", text)
    # the rest of the numbers, dates excepted (an ISO date's parts are not thousands separators)
    return re.sub(r"(?<![\d-])\d[\d,]*(?:\.\d+)?(?![\d-])", lambda m: _number(m.group()), text)
