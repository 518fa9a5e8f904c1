"""The numbers of a JSON text, in order, as float64: the same values `json.loads` gives, ~10x faster.

FreiHAND's annotation files and submissions are hundreds of megabytes of nested lists of numbers; `json.loads`
builds a Python float per number and numpy's text parsers spend ~300 ns on each. Here a compiled scanner
(numba) reads each number's digits into an integer mantissa and a decimal exponent and converts it:

- mantissa <= 2^53 and |exponent| <= 22: one correctly rounded multiplication or division by an exact power of
  ten (Clinger's fast path);
- otherwise, up to 18 digits and |exponent| <= 64 (the 17-digit reprs of most floats): the product with the power
  of ten in double-double arithmetic (error below 2^-95 relative), kept when that bound proves which double is
  nearest; only values within 2^-95 of a halfway point between two doubles are left undecided;
- the rest (undecided, more digits, huge exponents) are collected and converted by numpy's `strtod`-based parser.

So every value is the correctly rounded double, as Python's `float` gives.

Only the numbers are read; the caller checks the brackets and commas (`handmesh.data.json_cache`). A token that
is not a JSON number (`+1`, `.5`, `01`, `1e`, `nan`, `true`) makes `parse_numbers` return None.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numba
import numpy as np

_MAX_EXACT_MANTISSA = 2**53
_DD_RANGE = 64  # decimal exponents with a double-double power of ten


def _double_double_powers() -> np.ndarray:
    """(2 * _DD_RANGE + 1, 2): 10^e = hi + lo to ~2^-106 relative for e in [-_DD_RANGE, _DD_RANGE]."""
    table = np.empty((2 * _DD_RANGE + 1, 2))
    for e in range(-_DD_RANGE, _DD_RANGE + 1):
        exact = Fraction(10) ** e
        hi = float(exact)  # correctly rounded
        table[e + _DD_RANGE] = hi, float(exact - Fraction(hi))
    return table


_DD_POWERS = _double_double_powers()


def parse_numbers(text: bytes) -> np.ndarray | None:
    """All numbers of `text` in order (float64), or None if a token between separators is not a JSON number.

    Separators are `,`, `[`, `]` and whitespace.
    """
    buf = np.frombuffer(text, dtype=np.uint8)
    capacity = text.count(b",") + 1  # a regular array has one comma fewer than numbers
    values = np.empty(capacity, dtype=np.float64)
    slow_at = np.empty(capacity, dtype=np.int64)
    slow_text = np.empty(len(text) + 1, dtype=np.uint8)
    n, n_slow, slow_len = _scan(buf, _DD_POWERS, values, slow_at, slow_text)
    if n < 0:
        return None
    if n_slow:
        rest = np.fromstring(slow_text[:slow_len].tobytes().decode("ascii"), dtype=np.float64, sep=",")
        if rest.size != n_slow:
            return None
        values[slow_at[:n_slow]] = rest
    return values[:n]


@numba.njit(cache=True, nogil=True)
def _scan(buf, powers, values, slow_at, slow_text):  # pragma: no cover - compiled
    """Fill values; tokens outside the fast path go, comma-separated, to slow_text with their index in slow_at.

    Returns (numbers, slow numbers, bytes of slow_text used); numbers = -1 for a malformed token or too many.
    """
    n = 0
    n_slow = 0
    slow_len = 0
    i = 0
    size = buf.shape[0]
    while i < size:
        c = buf[i]
        if c == 44 or c == 91 or c == 93 or c == 32 or c == 10 or c == 13 or c == 9:  # , [ ] space \n \r \t
            i += 1
            continue
        if n >= values.shape[0]:
            return -1, 0, 0
        start = i
        negative = c == 45  # -
        if negative:
            i += 1
        mantissa = 0
        digits = 0  # significant digits kept in the mantissa
        dropped = 0  # significant digits beyond 18 (int64 holds 18) (the number goes to the slow path)
        exponent = 0
        integer = True  # no fraction, no exponent: JSON reads it as an int, so "-0" is 0, not -0.0
        # integer part: 0, or a non-zero digit and more digits
        if i >= size or not (48 <= buf[i] <= 57):
            return -1, 0, 0
        if buf[i] == 48:
            i += 1
            if i < size and 48 <= buf[i] <= 57:
                return -1, 0, 0  # leading zero
        else:
            while i < size and 48 <= buf[i] <= 57:
                if digits < 18:
                    mantissa = mantissa * 10 + (buf[i] - 48)
                    digits += 1
                else:
                    dropped += 1
                    exponent += 1
                i += 1
        if i < size and buf[i] == 46:  # .
            integer = False
            i += 1
            if i >= size or not (48 <= buf[i] <= 57):
                return -1, 0, 0
            while i < size and 48 <= buf[i] <= 57:
                if mantissa == 0 and buf[i] == 48:
                    exponent -= 1  # leading zeros of a fraction are not significant
                elif digits < 18:
                    mantissa = mantissa * 10 + (buf[i] - 48)
                    digits += 1
                    exponent -= 1
                else:
                    dropped += 1
                i += 1
        if i < size and (buf[i] == 101 or buf[i] == 69):  # e E
            integer = False
            i += 1
            exp_negative = False
            if i < size and (buf[i] == 43 or buf[i] == 45):
                exp_negative = buf[i] == 45
                i += 1
            if i >= size or not (48 <= buf[i] <= 57):
                return -1, 0, 0
            e = 0
            while i < size and 48 <= buf[i] <= 57:
                if e < 100000:
                    e = e * 10 + (buf[i] - 48)
                i += 1
            exponent += -e if exp_negative else e
        if i < size:
            c = buf[i]
            if not (c == 44 or c == 91 or c == 93 or c == 32 or c == 10 or c == 13 or c == 9):
                return -1, 0, 0  # something else glued to the number
        value = np.nan  # not converted yet
        if dropped == 0 and mantissa <= _MAX_EXACT_MANTISSA and -22 <= exponent <= 22:
            value = float(mantissa)  # exact, and so are 1e0 .. 1e22 (the table's hi parts)
            if exponent >= 0:
                value = value * powers[_DD_RANGE + exponent, 0]
            else:
                value = value / powers[_DD_RANGE - exponent, 0]
        elif dropped == 0 and -_DD_RANGE <= exponent <= _DD_RANGE:
            value = _times_power(mantissa, powers[exponent + _DD_RANGE, 0], powers[exponent + _DD_RANGE, 1])
        if value == value:
            values[n] = -value if negative and not (integer and mantissa == 0) else value
        else:
            if n_slow:
                slow_text[slow_len] = 44
                slow_len += 1
            for k in range(start, i):
                slow_text[slow_len] = buf[k]
                slow_len += 1
            slow_at[n_slow] = n
            n_slow += 1
        n += 1
    return n, n_slow, slow_len


@numba.njit(cache=True, nogil=True)
def _times_power(mantissa, p_hi, p_lo):  # pragma: no cover - compiled
    """The double nearest to mantissa * 10^e (0 < mantissa < 10^18, 10^e = p_hi + p_lo), or NaN when the
    double-double product cannot prove which double that is (the value lies within 2^-95 of a halfway point)."""
    m_hi = float(mantissa)
    m_lo = float(mantissa - int(m_hi))  # exact: |m_lo| <= 2^6 for mantissas below 2^60
    p, p_err = _two_product(m_hi, p_hi)  # m_hi * p_hi = p + p_err exactly
    tail = (p_err + m_hi * p_lo) + m_lo * p_hi  # the rest, to ~2^-100 relative (m_lo * p_lo is below that)
    s = p + tail
    s_err = (p - (s - (s - p))) + (tail - (s - p))  # TwoSum: p + tail = s + s_err exactly
    frac, exp = math.frexp(s)
    half_gap = math.ldexp(1.0, exp - 54)  # half the distance to the next double above
    if frac == 0.5:
        half_gap *= 0.5  # a power of two: the double below is twice as close
    if abs(s_err) + math.ldexp(abs(s), -95) < half_gap:
        return s
    return np.nan


@numba.njit(cache=True, nogil=True, inline="always")
def _two_product(a, b):  # pragma: no cover - compiled
    """(a * b, its rounding error) exactly, by Dekker's splitting (no FMA needed)."""
    p = a * b
    c = 134217729.0 * a  # 2^27 + 1
    a_hi = c - (c - a)
    a_lo = a - a_hi
    c = 134217729.0 * b
    b_hi = c - (c - b)
    b_lo = b - b_hi
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
