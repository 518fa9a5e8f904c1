"""The compiled JSON number reader: bit-for-bit the values `json.loads` gives, through both of its paths."""

from __future__ import annotations

import json

import numpy as np
import pytest

from handmesh.data.json_numbers import parse_numbers


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
