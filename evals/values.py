"""Numbers, units and dates written as values, so that an answer is compared with its reference by
what it says and not how it spells it: "5GB" = "5 GB" = "five gigabytes", "$12.00" = "12 dollars",
"2/5/20" = "February 5, 2020" = "2020-02-05", "8 a.m." = "08:00" = "8 in the morning", "half a
gigabyte" = "500 MB", "a quarter of an hour" = "15 minutes", "twenty-four hours" = "a day" = "24 h",
"a fortnight" = "14 days", "daily" = "every day", "US dollars" = "USD".

`canonical(text)` rewrites a text with every value it recognises in one spelling (dates as ISO
`2020-02-05`, numbers as digits without thousands separators or trailing zeros, units by one
name, a quantity in the largest unit that keeps it a whole number: "24 hours" = "1 day", "0.5 GB" =
"500 MB"); the metric compares canonical texts. Written here rather than taken from a library:
the parsers that find dates in free text (dateparser, duckling) bring language models or
services, and what the metric needs is a few fixed spellings, each listed below.
"""
from __future__ import annotations

import calendar
import re
from fractions import Fraction

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
    "yrs": "years", "unit": "units", "units": "units", "aud": "aud", "cad": "cad", "chf": "chf", "jpy": "jpy",
}
# currencies named in words, wherever they stand ("billed in euros and Australian dollars")
CURRENCY_NAMES = {"us dollars?|u\\.s\\. dollars?|american dollars?": "USD", "australian dollars?": "AUD",
                  "canadian dollars?": "CAD", "pounds? sterling|british pounds?": "GBP", "euros?": "EUR",
                  "swiss francs?": "CHF", "japanese yen": "JPY"}
# the steps of one scale: a quantity is written in the largest unit of its scale that keeps it whole
# (1000 for bytes and grams, as the shipped corpora and the SI count; a month is no whole number of weeks)
SCALES = [[("minutes", 1), ("hours", 60), ("days", 24), ("weeks", 7)],
          [("kb", 1), ("mb", 1000), ("gb", 1000), ("tb", 1000)],
          [("mcg", 1), ("mg", 1000), ("g", 1000), ("kg", 1000)]]
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
# "one" and "zero" are read as numbers only before a unit ("one of the plans" states no quantity);
# "two" and up always count ("capped at ten referrals")
_NUMBER_WORD = re.compile(r"\b(?:(one|zero)(?=[\s-]+(?:" + _UNIT_WORDS + r")(?![a-z]))|("
                          + "|".join(w for w in NUMBER_WORDS if w not in ("one", "zero")) + r"))\b", re.I)
# a number spelled in several words: "twenty-four", "one hundred and twenty", "two thousand five hundred"
_SCALE_WORDS = {"thousand": 1000, "million": 1_000_000}  # "hundred" is a number word: it multiplies its group
_SPELLED = "|".join(sorted([*NUMBER_WORDS, *_SCALE_WORDS], key=len, reverse=True))
_COMPOUND = re.compile(rf"\b(?:{_SPELLED})(?:(?:[\s-]+|\s+and\s+)(?:{_SPELLED}))+\b", re.I)
_FORTNIGHT = re.compile(r"\b(?:an?\s+)?fortnight\b", re.I)
# "daily" is "every day" (not after a hyphen: "twice-daily" is left as one word)
_DAILY = re.compile(r"(?<![\w-])daily\b", re.I)
_UNIT_AHEAD = rf"[\s-]+(?:an?\s+)?({_UNIT_WORDS})(?![a-z])"
# fractions of a unit, as answers say them: "four and a half hours", "half a gigabyte", "a quarter
# of an hour", "quarter-hour"; and "a day" is one day (not after "once"/"twice": a rate is no amount)
_AND_A_HALF = re.compile(r"\b(\d+(?:\.\d+)?) and a half" + _UNIT_AHEAD, re.I)
_FRACTION = re.compile(r"\b(?:an?\s+|one\s+)?(half|quarter|three quarters)(?:\s+of)?" + _UNIT_AHEAD, re.I)
_ONE = re.compile(r"\b(?:an?)\s+(" + _UNIT_WORDS + r")\b(?![a-z])", re.I)
_RATE = re.compile(r"(?:\b(?:once|twice|times|per)|\d|\b(?:" + _UNIT_WORDS + r"))\W*$", re.I)


def _compound(m: re.Match) -> str:
    """ "twenty-four" -> "24", "one hundred and twenty" -> "120", "two thousand" -> "2000"; a run
    that is no single number ("three four", "twenty thirty": a list) is left as it was."""
    total = group = 0
    last = None  # what the previous word was: small (0-19), ten (20-90), hundred or scale
    for w in (w.lower() for w in re.split(r"[\s-]+", m.group()) if w.lower() != "and"):
        if w == "hundred":
            group, last = (group or 1) * 100, "hundred"
        elif w in _SCALE_WORDS:
            total, group, last = total + (group or 1) * _SCALE_WORDS[w], 0, "scale"
        else:
            kind = "ten" if NUMBER_WORDS[w] >= 20 else "small"
            if last == "small" or (last == "ten" and kind == "ten"):
                return m.group()
            group, last = group + NUMBER_WORDS[w], kind
    return str(total + group)


def _one(m: re.Match) -> str:
    """ "within a day" -> "within 1 days"; a rate ("twice a day", "15 units an hour") is kept."""
    return m.group() if _RATE.search(m.string[:m.start()]) else f"1 {m[1]}"
_FRACTIONS = {"half": "0.5", "quarter": "0.25", "three quarters": "0.75"}


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


_DAYTIME = re.compile(r"\b(\d{1,2})(?::(\d{2}))?(?:\s+o'?clock)?\s+(in\s+the\s+|the\s+(?:following|next)\s+(?:\w+\s+)?)"
                      r"(morning|afternoon|evening|night)\b", re.I)  # "6 in the evening", "9 the next morning"
_OCLOCK = re.compile(r"\b(\d{1,2})\s+o'?clock\b", re.I)  # "9 o'clock": as a morning hour, the likelier
_NOON = re.compile(r"\b(?:12\s+)?(noon|midday|midnight)\b", re.I)


def _times(text: str) -> str:
    """Clock times as 24-hour HH:MM: "8 a.m." = "08:00", "6 pm" = "18:00", "6 in the evening" =
    "18:00", "noon" = "12:00" (after number words are digits)."""
    def clock(m):
        h, mins, half = int(m[1]), int(m[2] or 0), m[3].lower()
        if not (1 <= h <= 12 and mins < 60):
            return m.group()
        h = h % 12 + (12 if half == "p" else 0)
        return f"{h:02d}:{mins:02d}"

    def daytime(m):
        h, part = int(m[1]), m[4].lower()
        if not (1 <= h <= 12 and int(m[2] or 0) < 60):
            return m.group()
        pm = part in ("afternoon", "evening") or part == "night" and h >= 6
        time = f"{h % 12 + (12 if pm else 0):02d}:{m[2] or '00'}"
        # "in the morning" only says a.m.; "the next business morning" also says which day
        return time if m[3].lower().startswith("in") else f"{time} {m[3]}{m[4]}"

    text = _CLOCK.sub(clock, text)
    text = _DAYTIME.sub(daytime, text)
    text = _OCLOCK.sub(lambda m: f"{int(m[1]):02d}:00" if 1 <= int(m[1]) <= 12 else m.group(), text)
    text = _NOON.sub(lambda m: "00:00" if m[1].lower() == "midnight" else "12:00", text)
    return _HHMM.sub(lambda m: f"{int(m[1]):02d}:{m[2]}" if int(m[1]) < 24 and int(m[2]) < 60 else m.group(), text)


_SCALED = re.compile(r"\b(\d+(?:\.\d+)?) (" + "|".join(u for scale in SCALES for u, _ in scale) + r")\b")


def _rescale(m: re.Match) -> str:
    """A quantity in the largest unit of its scale that keeps it whole ("24 hours" -> "1 days",
    "0.5 gb" -> "500 mb"), so both spellings of an amount meet in one."""
    scale = next(s for s in SCALES if m[2] in dict(s))
    units = [u for u, _ in scale]
    i, value = units.index(m[2]), Fraction(m[1])
    while i > 0 and value < 1:  # a fraction of a unit, down: 0.25 hours = 15 minutes
        value, i = value * scale[i][1], i - 1
    while i + 1 < len(scale) and (value / scale[i + 1][1]).denominator == 1:
        value, i = value / scale[i + 1][1], i + 1
    if value.denominator != 1:  # not whole (4.5 hours): as written
        return m.group()
    return f"{value.numerator} {units[i]}"


def canonical(text: str) -> str:
    """The text with its dates, times, numbers and units in one spelling each (see the module doc)."""
    # spelled numbers first, so that "six in the evening" is a time and "twenty-four hours" an amount
    text = _COMPOUND.sub(_compound, _SPACED_THOUSANDS.sub(r"\1\2", text))
    text = _NUMBER_WORD.sub(lambda m: str(NUMBER_WORDS[(m[1] or m[2]).lower()]), text)
    text = _DAILY.sub("every day", _FORTNIGHT.sub("2 weeks", text))
    text = _times(_dates(text))
    for names, code in CURRENCY_NAMES.items():
        text = re.sub(rf"\b(?:{names})\b", code, text, flags=re.I)
    text = re.sub(r"\b([A-Z]{3}) \(\1\)", r"\1", text)  # "Swiss francs (CHF)" names one currency, once
    text = _AND_A_HALF.sub(lambda m: f"{m[1]}.5 {m[2]}", text)
    text = _FRACTION.sub(lambda m: f"{_FRACTIONS[m[1].lower()]} {m[2]}", text)
    text = _ONE.sub(_one, text)
    text = _CURRENCY_BEFORE.sub(lambda m: f"{_number(m[2])} {UNITS[m[1]]}", text)
    text = _NUMBER_UNIT.sub(lambda m: f"{_number(m[1])} {UNITS[m[2].lower()]}", text)
    text = _SCALED.sub(_rescale, text)
    # the rest of the numbers, dates excepted (an ISO date's parts are not thousands separators)
    return re.sub(r"(?<![\d-])\d[\d,]*(?:\.\d+)?(?![\d-])", lambda m: _number(m.group()), text)
