"""Q formats, rounding, saturation, the LFSR and the activation tables."""

import numpy as np
import pytest

from pcfpga.golden.activations import (ActTable, act_fixed, df_float, f_float,
                                       table_error)
from pcfpga.golden.graph import ACTIVATIONS
from pcfpga.golden.lfsr import POLY, Lfsr32, mix
from pcfpga.golden.qformat import QFormat, round_shift


@pytest.mark.parametrize("text, message", [
    ("Q4", "'Q4' is not a Q format like 'Q4.12'"),
    ("4.12", "'4.12' is not a Q format like 'Q4.12'"),
    ("Q0.8", "Q0.8 has no integer bit (the sign needs one)"),
    ("Q20.20", "Q20.20 is 40 bits wide; at most 32 bits are supported"),
    (12, "12 is not a Q format string like 'Q4.12'"),
])
def test_parse_errors(text, message):
    with pytest.raises(ValueError) as info:
        QFormat.parse(text)
    assert str(info.value) == message


def test_parse_negative_fraction():
    with pytest.raises(ValueError, match="Q4.-2 has negative fraction bits"):
        QFormat.parse("Q4.-2")


@pytest.mark.parametrize("args, message", [
    ((0, 4), "Integer bits must be a positive integer (the sign needs one), not 0"),
    ((4, -3), "Fraction bits must be a non-negative integer, not -3"),
    ((16, 17), "Q16.17 is 33 bits wide; at most 32 bits are supported"),
])
def test_constructor_errors(args, message):
    with pytest.raises(ValueError) as info:
        QFormat(*args)
    assert str(info.value) == message


def test_saturate_flags_exactly_the_overflows():
    q = QFormat(3, 2)                        # -16 .. 15
    x = np.arange(-40, 40)
    y, over = q.saturate(x)
    assert np.array_equal(over, (x < -16) | (x > 15))
    assert np.array_equal(y, np.clip(x, -16, 15))


def test_saturate_python_ints():
    q = QFormat(16, 16)
    x = np.array([2 ** 40, -(2 ** 40), 5], dtype=object)
    y, over = q.saturate(x)
    assert list(y) == [q.max_int, q.min_int, 5] and list(over) == [True, True, False]


def test_to_int_rounds_to_nearest_and_saturates():
    q = QFormat.parse("Q2.2")                # -2 .. 1.75 in steps of 0.25
    ints, over = q.to_int([0.124, 0.125, -0.125, 1.9, -2.2, 1.75])
    assert ints.tolist() == [0, 1, 0, 7, -8, 7]
    assert over.tolist() == [False, False, False, True, True, False]


@pytest.mark.parametrize("shift", [1, 3, 7])
def test_rounding_modes_against_exact_rationals(shift):
    x = np.arange(-300, 300)
    exact = x / 2 ** shift
    assert np.array_equal(round_shift(x, shift, "truncate"), np.floor(exact))
    assert np.array_equal(round_shift(x, shift, "nearest"), np.floor(exact + 0.5))
    # stochastic: over every possible random offset, the mean is the exact value
    rs = np.arange(2 ** shift)
    total = sum(round_shift(x, shift, "stochastic", rand=np.full(x.shape, r)) for r in rs)
    assert np.array_equal(total, x)          # Σ_r floor((x + r) / 2^s) = x


def test_stochastic_rounding_uses_only_the_low_bits():
    x = np.array([5])
    assert round_shift(x, 2, "stochastic", rand=np.array([0xFFFFFFF0 | 3])) == 2
    assert round_shift(x, 2, "stochastic", rand=np.array([0xFFFFFFF0 | 2])) == 1
    # above 32 dropped bits the word is scaled up: still unbiased to 2^-32
    assert round_shift(np.array([1 << 40]), 40, "stochastic", rand=np.array([0])) == 1


def test_negative_shift_is_exact():
    assert round_shift(np.array([-3, 5]), -4, "truncate").tolist() == [-48, 80]


def test_unknown_rounding_mode():
    with pytest.raises(ValueError, match="Rounding mode must be one of truncate, nearest, "
                                         "stochastic, not 'even'"):
        round_shift(np.array([1]), 1, "even")
    with pytest.raises(ValueError, match="stochastic rounding needs random words"):
        round_shift(np.array([1]), 1, "stochastic")


def _gf2_matmul(a, b):
    """32x32 matrices over GF(2) as lists of 32-bit row masks: a @ b."""
    out = []
    for row in a:
        acc = 0
        for j in range(32):
            if row >> j & 1:
                acc ^= b[j]
        out.append(acc)
    return out


def test_lfsr_has_maximal_period():
    """The step is linear over GF(2); its matrix A has order exactly 2^32 - 1, checked with
    the prime factors 3, 5, 17, 257, 65537 of 2^32 - 1 (so every non-zero seed cycles
    through all 2^32 - 1 non-zero states)."""
    cols = []
    for j in range(32):
        s = Lfsr32(1 << j)
        cols.append(s.step())
    A = [sum(((cols[j] >> i) & 1) << j for j in range(32)) for i in range(32)]
    identity = [1 << i for i in range(32)]

    def power(m, n):
        result, base = identity, m
        while n:
            if n & 1:
                result = _gf2_matmul(result, base)
            base = _gf2_matmul(base, base)
            n >>= 1
        return result

    order = 2 ** 32 - 1
    assert power(A, order) == identity
    for q in (3, 5, 17, 257, 65537):
        assert power(A, order // q) != identity


def test_lfsr_seed_errors_and_sequence():
    with pytest.raises(ValueError, match="LFSR seed must be an integer from 1 to 4294967295, "
                                         "not 0"):
        Lfsr32(0)
    s = Lfsr32(1)
    assert s.step() == (1 >> 1) ^ POLY


def test_mixer_words_are_uniform_enough_for_rounding():
    """Low 8 bits of the mixer over many phases and elements: every value appears, and no
    bucket is far from the mean (chi-square under 400 for 255 degrees of freedom)."""
    s = Lfsr32(12345)
    words = np.concatenate([mix(s.step(), site, np.arange(64)) for site in (3, 40)
                            for _ in range(200)])
    counts = np.bincount(words & 0xFF, minlength=256)
    expected = len(words) / 256
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    assert counts.min() > 0 and chi2 < 400, chi2


def test_tables_shared_and_exact_index():
    fmt = QFormat.parse("Q4.12")
    t = ActTable.build("tanh", fmt, 8)
    assert ActTable.build("tanh", fmt, 8) is t            # one build per format
    a = np.arange(fmt.min_int, fmt.max_int + 1)
    idx = t.index(a)
    assert idx.min() == 0 and idx.max() == 255
    assert np.array_equal(idx, (a >> 8) + 128)            # Q4.12 covers [-8, 8) exactly
    with pytest.raises(ValueError, match="Table activation must be one of tanh, sigmoid"):
        ActTable.build("relu", fmt, 8)


@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
@pytest.mark.parametrize("fmt, bits", [("Q4.12", 8), ("Q4.12", 10), ("Q2.6", 10),
                                       ("Q6.10", 6)])
def test_table_error_is_the_exhaustive_maximum(act, fmt, bits):
    """The edge-based table_error equals the maximum over every representable input."""
    q = QFormat.parse(fmt)
    a = np.arange(q.min_int, q.max_int + 1)
    f, g = act_fixed(act, a, q, bits, None)
    x = q.to_float(a)
    err_f = np.max(np.abs(q.to_float(f) - f_float(act, x)))
    err_g = np.max(np.abs(g * q.lsb - df_float(act, x)))
    assert table_error(act, q, bits) == pytest.approx((err_f, err_g), rel=0, abs=1e-15)
    step = 16 / 2 ** min(bits, q.frac_bits + 4)             # bucket width on [-8, 8)
    assert err_f <= step / 2 * (1.0 if act == "tanh" else 0.25) + q.lsb / 2


@pytest.mark.parametrize("act", [a for a in ACTIVATIONS if a not in ("tanh", "sigmoid")])
def test_piecewise_activations_match_float(act):
    """Exact where no bits are dropped; leaky_relu and hardsigmoid within one rounding."""
    q = QFormat.parse("Q4.10")
    a = np.arange(q.min_int, q.max_int + 1)
    f, g = act_fixed(act, a, q, 8, lambda x, s: round_shift(x, s, "nearest"))
    x = q.to_float(a)
    err = np.abs(q.to_float(f) - f_float(act, x))
    assert err.max() <= (q.lsb / 2 if act in ("leaky_relu", "hardsigmoid") else 0)
    assert np.array_equal(g * q.lsb, df_float(act, x))


def test_float_and_backprop_agree_on_activations():
    from pcfpga.golden.backprop import _F

    a = np.linspace(-5, 5, 1001)
    for act in ACTIVATIONS:
        assert np.allclose(_F[act][0](a), f_float(act, a), rtol=0, atol=1e-15)
        assert np.allclose(_F[act][1](a), df_float(act, a), rtol=0, atol=1e-15)


def test_unknown_activation_is_an_error():
    for fn in (f_float, df_float):
        with pytest.raises(ValueError, match="unknown activation 'swish'"):
            fn("swish", np.zeros(1))
