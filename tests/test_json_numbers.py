"""The compiled JSON number reader: bit-for-bit the values `json.loads` gives, through both of its paths."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from handmesh.data.json_numbers import _DD_POWERS, _DD_RANGE, _times_power, parse_numbers


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.view(np.int64), b.view(np.int64))


def test_equals_json_loads_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [
            rng.normal(size=20_000) * 0.05 + 0.5,  # coordinates in metres: 15-17 significant digits
            rng.normal(size=2_000).astype(np.float32).astype(np.float64),  # float32 predictions widened
            rng.normal(size=2_000) * 10.0 ** rng.integers(-40, 40, 2_000),  # every exponent range
            rng.integers(-(10**6), 10**6, 500).astype(np.float64),
            [0.0, -0.0, 5e-324, 1e-300, 1.7976931348623157e308, 2.0**53, 2.0**53 + 2, 1.2345678901234567e22],
        ]
    )
    text = json.dumps(values.reshape(-1, 1).tolist())
    assert _same_bits(parse_numbers(text.encode()), np.array(json.loads(text), dtype=np.float64).ravel())
    # written by hand: exponents, integers, "-0" (an int in JSON: +0.0), more digits than int64 holds
    text = (
        "[1E5, 1e-7, -0, 12, 0.000123, 1.5e+3, 100000000000000000000000000, 0.1e-30, 9007199254740993, "
        "1.00000000000000000000001, -0.0, -0e0, 0.30000000000000004, 123456789012345678901, 4.9e-324]"
    )
    assert _same_bits(parse_numbers(text.encode()), np.array(json.loads(text), dtype=np.float64))


def test_decimals_next_to_halfway_points_round_like_json_loads() -> None:
    """The double-double path must give up (and strtod decide) exactly where rounding is in doubt: 17- and
    18-digit decimals a few units of their last digit from the midpoint of two adjacent doubles, exact midpoints
    of large integers (ties to even), and powers of two (where the gap below is half the gap above)."""
    rng = np.random.default_rng(1)
    xs = np.concatenate([rng.normal(size=300) * 0.05, 2.0 ** rng.integers(-60, 60, 100).astype(np.float64)])
    tokens = []
    for x in xs:
        for neighbour in (np.nextafter(x, np.inf), np.nextafter(x, -np.inf)):
            mid = (Fraction(float(x)) + Fraction(float(neighbour))) / 2  # exactly halfway between two doubles
            for digits in (17, 18):
                text = f"{Decimal(mid.numerator) / Decimal(mid.denominator):.{digits - 1}e}"
                mantissa, exponent = text.split("e")
                last = Decimal(1).scaleb(int(exponent) - digits + 1)  # one unit of the last digit
                for k in (-2, -1, 0, 1, 2):
                    tokens.append(f"{Decimal(mantissa).scaleb(int(exponent)) + k * last:.{digits - 1}e}")
    tokens += [str(2**53 + 1), str(2**54 + 2), str(2**55 + 4), "9007199254740993e-5", "123456789012345678"]
    text = "[" + ",".join(tokens) + "]"
    assert _same_bits(parse_numbers(text.encode()), np.array(json.loads(text), dtype=np.float64))


def test_double_double_product_is_the_nearest_double_or_gives_up() -> None:
    """mantissa x 10^e in double-double: the correctly rounded double (exact rational arithmetic decides), or NaN
    where the error bound cannot exclude the other neighbour: it must give up at exact halfway points."""
    rng = np.random.default_rng(2)
    for _ in range(3000):
        mantissa = int(rng.integers(2**53, 10**18))
        e = int(rng.integers(-_DD_RANGE, _DD_RANGE + 1))
        got = _times_power(mantissa, *_DD_POWERS[e + _DD_RANGE])
        assert got == float(Fraction(mantissa) * Fraction(10) ** e)  # float(Fraction) rounds correctly
    for tie in (2**53 + 1, 2**54 + 2, 2**55 + 4, 2**59 + 64):  # exactly between two doubles: left to strtod
        assert np.isnan(_times_power(tie, *_DD_POWERS[_DD_RANGE]))
    assert _times_power(2**53 + 2, *_DD_POWERS[_DD_RANGE]) == 2.0**53 + 2  # a double itself: decided


def test_nesting_and_whitespace_are_separators() -> None:
    got = parse_numbers(b"[[1.5,\n -2],\t[3e0 ,4]]\r\n")
    assert _same_bits(got, np.array([1.5, -2.0, 3.0, 4.0]))
    assert parse_numbers(b"[]").size == 0


@pytest.mark.parametrize("token", ["+1", ".5", "01", "1.", "1e", "-", "nan", "1x", "0x10", "1..2"])
def test_a_token_that_is_not_a_json_number_is_refused(token: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(f"[{token}]")  # the premise: JSON refuses it too
    assert parse_numbers(f"[1, {token}, 2]".encode()) is None


@pytest.mark.parametrize("token", ["true", "null", "Infinity", "NaN"])
def test_json_values_that_are_not_finite_numbers_are_refused(token: str) -> None:
    assert parse_numbers(f"[1, {token}, 2]".encode()) is None  # json.loads reads them; they are no coordinates


def test_a_list_of_regular_arrays_is_read_in_one_pass_or_refused() -> None:
    from handmesh.data.json_cache import parse_array_list

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(3, 2, 3)), rng.normal(size=(3, 4, 3))
    for text in (json.dumps([a.tolist(), b.tolist()]), json.dumps([a.tolist(), b.tolist()], indent=1)):
        got = parse_array_list(text.encode(), [(2, 3), (4, 3)])
        assert got is not None and _same_bits(got[0], a) and _same_bits(got[1], b)
    empty = parse_array_list(b"[ [] , [] ]", [(2, 3), (4, 3)])
    assert empty is not None and empty[0].shape == (0, 2, 3) and empty[1].shape == (0, 4, 3)
    refused = [
        json.dumps([a[:2].tolist(), b.tolist()]),  # different counts
        json.dumps([a.tolist(), b.reshape(3, 3, 4).tolist()]),  # other entry shapes, the same count of numbers
        json.dumps([b.tolist(), a.tolist()]),  # swapped
        json.dumps([a.tolist(), b.tolist(), []]),  # a third list
        json.dumps({"xyz": a.tolist()}),
    ]
    for text in refused:
        assert parse_array_list(text.encode(), [(2, 3), (4, 3)]) is None, text[:40]
