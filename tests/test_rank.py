"""core.rank against sympy (exact rank and rref) and numpy (SVD, Eckart-Young)."""

import re
from fractions import Fraction

import numpy as np
import pytest
import sympy

from core.rank import (
    CURRICULUM,
    low_rank_approx,
    numerical_rank,
    parse_matrix,
    preset,
    random_factors,
    random_matrix,
    rank,
    row_reduce,
    rref,
    to_fractions,
    to_text,
    tolerance,
)

F = Fraction
SHAPES = [(m, n) for m in range(1, 9) for n in range(1, 9)]


def _random_matrices():
    """Four matrices per shape up to 8 x 8 (256 in all): integers (mostly full rank), a
    rank-deficient integer product, rationals, and a sparse matrix with many zeros (so
    that row swaps and free columns occur)."""
    rng = np.random.default_rng(20261123)
    cases = []
    for m, n in SHAPES:
        cases.append(("int", rng.integers(-9, 10, size=(m, n)).tolist()))
        r = int(rng.integers(0, min(m, n) + 1))
        B, A = random_factors(m, r, n, seed=int(rng.integers(1 << 30)))
        cases.append(("low-rank", (B @ A).tolist()))
        num = rng.integers(-6, 7, size=(m, n))
        den = rng.integers(1, 6, size=(m, n))
        cases.append(
            (
                "rational",
                [
                    [F(int(a), int(b)) for a, b in zip(ra, rb, strict=True)]
                    for ra, rb in zip(num, den, strict=True)
                ],
            )
        )
        sparse = rng.integers(-2, 3, size=(m, n)) * (rng.random((m, n)) < 0.35)
        cases.append(("sparse", sparse.tolist()))
    return cases


CASES = _random_matrices()


def sym(M) -> sympy.Matrix:
    return sympy.Matrix(
        [[sympy.Rational(F(x).numerator, F(x).denominator) for x in row] for row in M]
    )


def as_fractions(S: sympy.Matrix):
    return tuple(tuple(F(int(x.p), int(x.q)) for x in S.row(i)) for i in range(S.rows))


def is_echelon(M) -> bool:
    leads = [next((j for j, a in enumerate(row) if a != 0), None) for row in M]
    nonzero = [j for j in leads if j is not None]
    zero_rows_at_bottom = leads[len(nonzero) :] == [None] * (len(leads) - len(nonzero))
    strictly_right = all(a < b for a, b in zip(nonzero, nonzero[1:], strict=False))
    return zero_rows_at_bottom and strictly_right


COEF = r"\(?(-?\d+(?:/\d+)?)\)?"


def replay(op: str, M):
    """Apply a step's operation, read from its text, to the previous matrix."""
    A = [list(row) for row in M]
    if m := re.fullmatch(r"R(\d+) <-> R(\d+)", op):
        i, k = int(m[1]) - 1, int(m[2]) - 1
        A[i], A[k] = A[k], A[i]
    elif m := re.fullmatch(rf"R(\d+) -> {COEF}\*R(\d+)", op):
        i, c = int(m[1]) - 1, F(m[2])
        assert int(m[3]) - 1 == i and c != 0
        A[i] = [c * a for a in A[i]]
    elif m := re.fullmatch(rf"R(\d+) -> R(\d+) ([+-]) (?:{COEF}\*)?R(\d+)", op):
        i, sign, k = int(m[1]) - 1, m[3], int(m[5]) - 1
        assert int(m[2]) - 1 == i and k != i
        c = F(m[4]) if m[4] else F(1)
        assert c > 0  # the sign is written as + or -, never "- (-2)"
        c = -c if sign == "-" else c
        A[i] = [a + c * b for a, b in zip(A[i], A[k], strict=True)]
    else:
        raise AssertionError(f"not a row operation: {op!r}")
    return tuple(tuple(row) for row in A)


# ---- the curriculum --------------------------------------------------------------------


def test_curriculum_example_step_for_step():
    steps = row_reduce([[1, 2, 3], [0, 4, 2], [2, 6, 5]])
    assert [s.op for s in steps] == ["start", "R3 -> R3 - 2*R1", "R3 -> R3 - (1/2)*R2"]
    assert steps[1].matrix[2] == (0, 2, -1)
    assert steps[2].matrix == ((1, 2, 3), (0, 4, 2), (0, 0, -2))
    assert steps[1].explanation.startswith("make the entry in row 3, column 1 zero")
    assert [s.pivot for s in steps] == [None, (0, 0), (1, 1)]
    assert [s.rows for s in steps] == [(), (2,), (2,)]
    assert rank([[1, 2, 3], [0, 4, 2], [2, 6, 5]]) == 3


def test_outer_product_has_rank_one():
    M = np.outer([1, 2, 3], [4, 1, 5, 6])  # (3, 4)
    assert rank(M) == 1
    assert low_rank_approx(M, 1).stored == 7 and low_rank_approx(M, 1).full == 12
    assert low_rank_approx(M, 1).error == pytest.approx(0, abs=1e-12)


def test_only_the_zero_matrix_has_rank_zero():
    assert rank([[0, 0, 0], [0, 0, 0]]) == 0
    assert [s.op for s in row_reduce([[0, 0], [0, 0]], reduced=True)] == ["start"]
    assert rank([[0, 0], [0, F(1, 1000)]]) == 1


# ---- against sympy, hundreds of random matrices ------------------------------------------


@pytest.mark.parametrize("kind", ["int", "low-rank", "rational", "sparse"])
def test_rank_and_rref_equal_sympys(kind):
    cases = [M for k, M in CASES if k == kind]
    assert len(cases) == 64
    for M in cases:
        S = sym(M)
        R, pivots = rref(M)
        S_rref, S_pivots = S.rref()
        assert rank(M) == S.rank(), M
        assert R == as_fractions(S_rref), M
        assert pivots == S_pivots, M


@pytest.mark.parametrize("reduced", [False, True], ids=["echelon", "reduced"])
def test_every_step_replays_and_keeps_the_rank(reduced):
    ops = set()
    for _, M in CASES:
        steps = row_reduce(M, reduced=reduced)
        expected_rank = sym(M).rank()
        assert steps[0].op == "start" and steps[0].matrix == to_fractions(M)
        for before, step in zip(steps, steps[1:], strict=False):
            assert replay(step.op, before.matrix) == step.matrix, (M, step.op)
            changed = {
                i for i, (a, b) in enumerate(zip(before.matrix, step.matrix, strict=True)) if a != b
            }
            assert changed <= set(step.rows)
            ops.add(step.op.split()[1] if "<->" in step.op else step.op.count("R"))
        last = steps[-1].matrix
        assert is_echelon(last), M
        assert sum(any(row) for row in last) == expected_rank
        if reduced:
            assert last == as_fractions(sym(M).rref()[0])
    # swaps, eliminations (and, for the reduced form, scalings) all occurred
    assert {"<->", 3} <= ops and (not reduced or 2 in ops)


def test_every_intermediate_matrix_has_the_rank_of_the_input():
    for _, M in CASES:
        steps = row_reduce(M, reduced=True)
        expected = sym(M).rank()
        assert all(sym(s.matrix).rank() == expected for s in steps), M


def test_rank_of_transpose_equals_rank():
    for _, M in CASES[::2]:
        assert rank(np.array(M, dtype=object).T.tolist()) == rank(M)


@pytest.mark.parametrize("seed", range(20))
def test_random_matrix_has_the_requested_rank(seed):
    rng = np.random.default_rng(seed)
    m, n = (int(x) for x in rng.integers(1, 9, size=2))
    r = int(rng.integers(0, min(m, n) + 1))
    M = random_matrix(m, n, r, seed)
    assert M.shape == (m, n)
    assert sympy.Matrix(M.tolist()).rank() == r
    assert np.array_equal(M, random_matrix(m, n, r, seed))  # reproducible


def test_product_of_factors_has_rank_at_most_r():
    for r in range(4):
        B, A = random_factors(40, r, 60, seed=r)
        assert B.shape == (40, r) and A.shape == (r, 60)
        assert sympy.Matrix((B @ A).tolist()).rank() <= r


# ---- reading input exactly, and refusing bad input ---------------------------------------


def test_numbers_are_read_exactly():
    M = parse_matrix("1/2 0.5 -3\n0.1, 2e-1, +4")
    assert M == ((F(1, 2), F(1, 2), F(-3)), (F(1, 10), F(1, 5), F(4)))
    assert to_fractions([[0.1, 3]]) == ((F(1, 10), F(3)),)
    assert parse_matrix("1 2; 3 4") == parse_matrix(" 1 2 \n\n 3 4 \n")
    assert parse_matrix(to_text(M)) == M


@pytest.mark.parametrize(
    ("M", "message"),
    [
        ([], "empty"),
        ([[]], "empty"),
        ([[1, 2], [3]], "row 2 has 1 entries but row 1 has 2"),
        ([[1, "x"]], r"cell \(row 1, column 2\) is 'x'"),
        ([[1, 2], [3, float("nan")]], r"cell \(row 2, column 2\) is nan: expected a finite"),
        ([[float("inf")]], r"cell \(row 1, column 1\) is inf"),
        ([["1/0"]], r"cell \(row 1, column 1\) is '1/0'"),
        ([["nan"]], "expected a finite"),
        ([[True]], "cell"),
        ([[None]], "cell"),
        ([1, 2], "row 1 is 1"),
        ([["1e99999999999"]], r"cell \(row 1, column 1\) is '1e99999999999': expected an exponent"),
        (
            [[1, 10**16]],
            r"cell \(row 1, column 2\) is 10000000000000000: expected a number between",
        ),
        ([[1e-20]], "with a denominator up to"),
        ([[1] * 9] * 2, "2 x 9: the step-by-step view takes at most 8 x 8"),
        ([[1]] * 9, "9 x 1"),
    ],
)
def test_bad_input_raises_value_error_naming_it(M, message):
    with pytest.raises(ValueError, match=message):
        row_reduce(M)


def test_text_errors_name_the_cell():
    with pytest.raises(ValueError, match=r"row 2, column 3\) is 'abc'"):
        parse_matrix("1 2 3\n4 5 abc")
    with pytest.raises(ValueError, match="row 2 has 2 entries but row 1 has 3"):
        parse_matrix("1 2 3\n4 5")
    with pytest.raises(ValueError, match="empty"):
        parse_matrix("  \n ")


def test_rank_and_rref_take_larger_matrices():
    M = random_matrix(8, 8, 3, seed=1)
    big = np.kron(M, np.ones((2, 2), dtype=int))  # (16, 16), rank 3
    assert rank(big) == 3 == sympy.Matrix(big.tolist()).rank()


# ---- low rank against numpy (Eckart-Young) ----------------------------------------------


def test_eckart_young_error_on_random_matrices():
    rng = np.random.default_rng(7)
    for m, n in SHAPES:
        M = rng.normal(size=(m, n))
        s = np.linalg.svd(M, compute_uv=False)
        for r in range(min(m, n) + 1):
            approx = low_rank_approx(M, r)
            assert approx.error == pytest.approx(np.sqrt(np.sum(s[r:] ** 2)), abs=1e-9)
            assert np.allclose(approx.singular_values, s)
            assert np.linalg.matrix_rank(approx.matrix) == r
            assert approx.stored == r * (m + n) and approx.full == m * n
        # no other rank-1 matrix does better than the SVD's
        best = low_rank_approx(M, 1).error
        for _ in range(5):
            other = np.outer(rng.normal(size=m), rng.normal(size=n))
            assert np.linalg.norm(M - other) >= best - 1e-12


def test_full_rank_approximation_is_the_matrix():
    M = [[1, 2, 3], [0, 4, 2], [2, 6, 5]]
    approx = low_rank_approx(M, 3)
    assert np.allclose(approx.matrix, M) and approx.error == pytest.approx(0, abs=1e-12)
    assert low_rank_approx(M, 0).error == pytest.approx(np.linalg.norm(M))


@pytest.mark.parametrize("r", [-1, 4, 1.5, "2", True])
def test_low_rank_rejects_bad_r(r):
    with pytest.raises(ValueError, match="r should be an integer between 0 and min"):
        low_rank_approx([[1, 2, 3], [0, 4, 2], [2, 6, 5]], r)


@pytest.mark.parametrize(
    ("M", "message"),
    [
        (np.array([[1.0, np.nan]]), r"row 1, column 2\) is nan"),
        ([[1, 2], [3]], "row 2 has 1 entries"),
    ],
)
def test_low_rank_rejects_bad_matrices(M, message):
    with pytest.raises(ValueError, match=message):
        low_rank_approx(M, 1)


def test_presets_are_the_lessons_matrices():
    assert preset("curriculum") == (to_fractions(CURRICULUM), None)
    outer, _ = preset("outer")
    assert sympy.Matrix(outer) == sympy.Matrix([1, 2, 3]) * sympy.Matrix([[4, 1, 5, 6]])
    assert preset("zero", 2, 3)[0] == ((0, 0, 0), (0, 0, 0))
    assert sympy.Matrix(preset("random", 6, 5, 9, seed=2)[0]).rank() == 5  # capped at min(m, n)
    M, (B, A) = preset("product", 6, 7, 2, seed=3)
    assert B.shape == (6, 2) and A.shape == (2, 7) and M == to_fractions(B @ A)
    assert preset("custom", text="1/2 1") == (((F(1, 2), F(1)),), None)
    with pytest.raises(ValueError, match="unknown preset 'identity'"):
        preset("identity")


def test_tolerance_gives_numpys_numerical_rank():
    rng = np.random.default_rng(3)
    for r in range(6):
        M = rng.normal(size=(30, r)) @ rng.normal(size=(r, 40))  # (30, 40), rank r
        s = np.linalg.svd(M, compute_uv=False)
        assert int((s > tolerance(s, M.shape)).sum()) == np.linalg.matrix_rank(M) == r
        assert numerical_rank(s, M.shape) == r


# ---- the pictures: column x row, the SVD's rank-1 layers, the notes' slips ----------------


def test_rank_one_factors_give_back_the_notes_vectors():
    from core.rank import rank_one_factors

    column, row = rank_one_factors(preset("outer")[0])
    assert column == (1, 2, 3) and row == (4, 1, 5, 6)  # the notes' [1, 2, 3]^T [4, 1, 5, 6]
    rng = np.random.default_rng(4)
    for _ in range(30):
        c = [
            F(int(a), int(b))
            for a, b in zip(rng.integers(-5, 6, 4), rng.integers(1, 4, 4), strict=True)
        ]
        r = [F(int(a)) for a in rng.integers(-5, 6, 5)]
        M = sympy.Matrix([sympy.Rational(x.numerator, x.denominator) for x in c]) * sympy.Matrix(
            [r]
        ).applyfunc(sympy.Rational)
        found = rank_one_factors(as_fractions(M))
        if M.rank() != 1:
            assert found is None
            continue
        fc, fr = found
        assert sympy.Matrix(fc) * sympy.Matrix([fr]) == M
    assert rank_one_factors(CURRICULUM) is None and rank_one_factors([[0, 0]]) is None


def test_rank_one_layers_add_up_to_the_matrix():
    from core.rank import approximation_errors, rank_one_layer, rank_one_layers, svd

    rng = np.random.default_rng(8)
    for m, n in ((3, 3), (4, 7), (8, 2), (6, 6)):
        M = rng.normal(size=(m, n))
        f = svd(M)
        layers = rank_one_layers(f)  # (p, m, n)
        assert layers.shape == (min(m, n), m, n)
        np.testing.assert_allclose(layers.sum(axis=0), M, atol=1e-12)
        assert all(np.linalg.matrix_rank(layer) == 1 for layer in layers)
        np.testing.assert_allclose(rank_one_layer(f, 1), layers[1])
        U, s, Vt = np.linalg.svd(M, full_matrices=False)
        direct = [np.linalg.norm(M - (U[:, :r] * s[:r]) @ Vt[:r]) for r in range(len(s) + 1)]
        np.testing.assert_allclose(approximation_errors(f), direct, atol=1e-10)
        assert list(approximation_errors(s)) == sorted(approximation_errors(s), reverse=True)
    with pytest.raises(ValueError, match="i should be an integer between 0 and 2"):
        rank_one_layer(svd(np.eye(3)), 3)
    with pytest.raises(ValueError, match="expected singular values"):
        approximation_errors([1.0, -1.0])


def test_the_notes_steps_for_the_curriculum_example_slip():
    """seeds/003: replaying the notes' own operations does not give the notes' matrices,
    while the correct steps (sympy's elimination) do give the curriculum's."""
    from core.rank import NOTES_CURRICULUM_STEPS

    first, second = NOTES_CURRICULUM_STEPS
    assert replay(first.op, to_fractions(CURRICULUM)) != to_fractions(first.matrix)
    assert replay(first.op, to_fractions(CURRICULUM))[1] == (-1, 2, -1)  # R2 - R1, literally
    assert replay(second.op, to_fractions(first.matrix)) == to_fractions(second.matrix)
    M = sympy.Matrix(CURRICULUM)
    M[2, :] = M[2, :] - 2 * M[0, :]  # the correct first step
    assert list(M.row(2)) == [0, 2, -1]
    M[2, :] = M[2, :] - sympy.Rational(1, 2) * M[1, :]
    assert list(M.row(2)) == [0, 0, -2] != list(second.matrix[2])
    assert sympy.Matrix(second.matrix).rank() == M.rank() == 3  # the result, 3, is right


def test_factor_storage_and_relative_error():
    from core.rank import factor_storage

    assert factor_storage(4096, 4096, 8) == (65_536, 16_777_216)  # the curriculum's numbers
    assert factor_storage(3, 4, 1) == (7, 12)
    with pytest.raises(ValueError, match="r should be a non-negative integer"):
        factor_storage(3, 4, -1)
    M = np.random.default_rng(2).normal(size=(5, 6))
    approx = low_rank_approx(M, 2)
    assert approx.relative_error == pytest.approx(
        np.linalg.norm(M - approx.matrix) / np.linalg.norm(M)
    )
    assert approx.storage_share == 2 * 11 / 30
    assert low_rank_approx(np.zeros((2, 2)), 1).relative_error == 0
