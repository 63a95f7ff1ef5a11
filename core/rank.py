"""Matrix rank: exact row reduction step by step, and the best low-rank approximation.

Row reduction works on `fractions.Fraction`, so every step is exact (no 0.30000000000000004):
integers, fractions such as ``1/2`` and decimals such as ``0.5`` are read exactly. The
low-rank part works on floats through numpy's SVD (Eckart-Young).

Row and column indices in the dataclasses are 0-based; the operations are written the way
a blackboard writes them, 1-based: ``R1 <-> R2``, ``R2 -> (1/2)*R2``, ``R3 -> R3 - 2*R1``.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

MAX_STEP_SIZE = 8  # rows and columns the step-by-step view accepts
CURRICULUM = ((1, 2, 3), (0, 4, 2), (2, 6, 5))  # CURRICULUM.md section 3: rank 3
OUTER_COLUMN, OUTER_ROW = (1, 2, 3), (4, 1, 5, 6)  # the notes' [1, 2, 3]^T [4, 1, 5, 6]

Matrix = tuple[tuple[Fraction, ...], ...]


@dataclass(frozen=True)
class Step:
    """One row operation and the whole matrix after it.

    op: the operation (``start`` for the input itself); explanation: why, in words;
    matrix: (m, n) Fractions after the step; pivot: (row, column) of the pivot the step
    works with, or None; rows: the rows the step changed.
    """

    op: str
    explanation: str
    matrix: Matrix
    pivot: tuple[int, int] | None
    rows: tuple[int, ...] = ()


@dataclass(frozen=True)
class LowRank:
    """The best rank-r approximation of an (m, n) matrix M = U diag(s) V^T.

    matrix: (m, n) M_r = U[:, :r] diag(s[:r]) V^T[:r]; singular_values: all of s,
    descending; error: ||M - M_r||_F.
    """

    matrix: np.ndarray
    singular_values: np.ndarray
    error: float
    r: int

    @property
    def stored(self) -> int:
        """Numbers kept by the factors B = U_r diag(s_r) (m, r) and A = V_r^T (r, n)."""
        m, n = self.matrix.shape
        return self.r * (m + n)

    @property
    def full(self) -> int:
        m, n = self.matrix.shape
        return m * n

    @property
    def relative_error(self) -> float:
        """||M - M_r||_F / ||M||_F (0 for the zero matrix); ||M||_F^2 = sum of all s_i^2."""
        norm = float(np.sqrt(np.sum(self.singular_values**2)))
        return self.error / norm if norm else 0.0

    @property
    def storage_share(self) -> float:
        """r (m + n) / (m n): the factors' numbers as a share of the matrix's."""
        return self.stored / self.full


@dataclass(frozen=True)
class SVD:
    """Thin SVD of an (m, n) matrix: U (m, p), s (p,), Vt (p, n), p = min(m, n)."""

    M: np.ndarray
    U: np.ndarray
    s: np.ndarray
    Vt: np.ndarray


# ---- reading a matrix ---------------------------------------------------------------------


MAX_ABS = 10**15  # larger entries are refused: floats (the SVD) could not hold their products
MAX_EXPONENT = 30  # "1e999999999" would build a billion-digit integer before any check


def _cell(value, i: int, j: int) -> Fraction:
    where = f"cell (row {i + 1}, column {j + 1})"
    x = None
    if isinstance(value, numbers.Rational) and not isinstance(value, bool):
        x = Fraction(value)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value!r}: expected a finite number")
        x = Fraction(str(value))  # the decimal as written: 0.1 -> 1/10, not 3602879701896397/2**55
    elif isinstance(value, str):
        text = value.strip()
        if text.lower().lstrip("+-") in {"nan", "inf", "infinity"}:
            raise ValueError(f"{where} is {value!r}: expected a finite number")
        exponent = re.search(r"[eE]([+-]?\d+)$", text)
        if exponent and abs(int(exponent[1])) > MAX_EXPONENT:
            raise ValueError(
                f"{where} is {value!r}: expected an exponent between "
                f"-{MAX_EXPONENT} and {MAX_EXPONENT}"
            )
        try:
            x = Fraction(text)
        except (ValueError, ZeroDivisionError):
            pass
    if x is None:
        raise ValueError(f"{where} is {value!r}: expected a number such as 3, -1/2 or 0.25")
    if abs(x) > MAX_ABS or x.denominator > MAX_ABS:
        raise ValueError(
            f"{where} is {value!r}: expected a number between -10^15 and 10^15 "
            f"with a denominator up to 10^15"
        )
    return x


def to_fractions(M, max_size: int | None = None) -> Matrix:
    """Read a matrix (rows of ints, floats, Fractions or strings like "1/2", "0.5")
    exactly. Raises ValueError naming the bad cell, a ragged row or the size."""
    if isinstance(M, np.ndarray):
        M = M.tolist()
    if not isinstance(M, (list, tuple)):
        raise ValueError(f"the matrix is {M!r}: expected a list of rows")
    for i, row in enumerate(M):
        if not isinstance(row, (list, tuple)):
            raise ValueError(f"row {i + 1} is {row!r}: expected a list of numbers")
    rows = [list(row) for row in M]
    if not rows or not rows[0]:
        raise ValueError("the matrix is empty: expected at least one row and one column")
    n = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != n:
            raise ValueError(
                f"row {i + 1} has {len(row)} entries but row 1 has {n}: every row needs {n}"
            )
    m = len(rows)
    if max_size is not None and (m > max_size or n > max_size):
        raise ValueError(
            f"the matrix is {m} x {n}: the step-by-step view takes at most {max_size} x {max_size}"
        )
    return tuple(tuple(_cell(v, i, j) for j, v in enumerate(row)) for i, row in enumerate(rows))


def parse_matrix(text: str, max_size: int | None = MAX_STEP_SIZE) -> Matrix:
    """Read a matrix typed as text: one row per line (or rows separated by ``;``), entries
    separated by spaces or commas. ``"1 2 3; 0 4 2"`` is 2 x 3."""
    lines = [line for line in text.replace(";", "\n").splitlines() if line.strip()]
    return to_fractions([line.replace(",", " ").split() for line in lines], max_size)


def fmt(x: Fraction) -> str:
    """A Fraction as a person writes it: 3, -1/2."""
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def to_text(M) -> str:
    """The editor's text form of a matrix: one row per line."""
    return "\n".join(" ".join(fmt(Fraction(x)) for x in row) for row in M)


# ---- row reduction ------------------------------------------------------------------------


def _coef(c: Fraction) -> str:
    """A multiplier in an operation: 2, (1/2), (-3)."""
    return fmt(c) if c.denominator == 1 and c > 0 else f"({fmt(c)})"


def _freeze(A: list[list[Fraction]]) -> Matrix:
    return tuple(tuple(row) for row in A)


def _subtract(k: int, c: Fraction, i: int) -> str:
    """The operation Rk -> Rk - c*Ri, sign outside: c = -1/2 reads R3 -> R3 + (1/2)*R1."""
    term = f"R{i + 1}" if abs(c) == 1 else f"{_coef(abs(c))}*R{i + 1}"
    return f"R{k + 1} -> R{k + 1} {'-' if c > 0 else '+'} {term}"


def _reduce(M: Matrix, reduced: bool) -> list[Step]:
    A = [list(row) for row in M]  # (m, n), changed in place
    m, n = len(A), len(A[0])
    steps = [Step("start", "the matrix as given", _freeze(A), None)]

    def record(op: str, why: str, pivot: tuple[int, int], rows: tuple[int, ...]) -> None:
        steps.append(Step(op, why, _freeze(A), pivot, rows))

    def eliminate(k: int, i: int, j: int, why: str) -> None:
        c = A[k][j] / A[i][j]
        A[k] = [a - c * b for a, b in zip(A[k], A[i], strict=True)]  # Rk -> Rk - c*Ri
        assert A[k][j] == 0
        record(_subtract(k, c, i), why, (i, j), (k,))

    # 1. forward: in each column, bring a non-zero entry up as the pivot, zero those below it
    pivots: list[tuple[int, int]] = []
    for j in range(n):
        i = len(pivots)  # the row the next pivot goes to
        below = [k for k in range(i, m) if A[k][j] != 0]
        if not below:
            continue  # no pivot in this column: a free column
        if (k := below[0]) != i:
            A[i], A[k] = A[k], A[i]
            why = f"row {i + 1} has a zero in column {j + 1} and row {k + 1} does not: swap them"
            record(f"R{i + 1} <-> R{k + 1}", why, (i, j), (i, k))
        for k in range(i + 1, m):
            if A[k][j] != 0:
                why = f"make the entry in row {k + 1}, column {j + 1} zero, using the pivot"
                eliminate(k, i, j, f"{why} {fmt(A[i][j])} in row {i + 1}")
        pivots.append((i, j))
        if len(pivots) == m:
            break
    if not reduced:
        return steps
    # 2. backward (Gauss-Jordan), bottom pivot first: scale the pivot to 1, zero those above
    for i, j in reversed(pivots):
        if A[i][j] != 1:
            c = 1 / A[i][j]
            A[i] = [c * a for a in A[i]]
            why = f"scale row {i + 1} so that its pivot in column {j + 1} is 1"
            record(f"R{i + 1} -> {_coef(c)}*R{i + 1}", why, (i, j), (i,))
        for k in range(i):
            if A[k][j] != 0:
                why = f"make the entry in row {k + 1}, column {j + 1} zero, above the pivot"
                eliminate(k, i, j, f"{why} in row {i + 1}")
    return steps


def row_reduce(M, reduced: bool = False) -> list[Step]:
    """Gaussian elimination in exact arithmetic, one Step per row operation.

    Forward phase (row-echelon form): for each column j, the first row at or below the
    current pivot row with a non-zero entry becomes the pivot row (``Ri <-> Rk`` if it is
    not already there); every row k below it gets ``Rk -> Rk - c*Ri`` with
    c = A[k][j] / A[i][j]. No row is scaled, so the curriculum example keeps its numbers.
    With ``reduced=True`` a backward phase follows (Gauss-Jordan): each pivot row is
    scaled to a leading 1 and the entries above each pivot are zeroed, giving the reduced
    row-echelon form (as sympy's ``Matrix.rref``).

    M: (m, n) with 1 <= m, n <= 8. Returns steps[0] = the input with op ``start``;
    steps[-1].matrix is in (reduced) row-echelon form. Every step keeps the rank.
    """
    return _reduce(to_fractions(M, MAX_STEP_SIZE), reduced)


def _echelon(M) -> list[Step]:
    return _reduce(to_fractions(M), reduced=False)


def pivot_columns(E: Matrix) -> tuple[int, ...]:
    """Columns (0-based) of the leading entries of a matrix in row-echelon form."""
    return tuple(next(j for j, a in enumerate(row) if a != 0) for row in E if any(row))


def rank(M) -> int:
    """Rank = number of pivots = number of non-zero rows of a row-echelon form of M
    (any size; exact)."""
    return len(pivot_columns(_echelon(M)[-1].matrix))


def rref(M) -> tuple[Matrix, tuple[int, ...]]:
    """Reduced row-echelon form and pivot columns, as sympy's ``Matrix(M).rref()``
    returns them (exact Fractions; any size)."""
    R = _reduce(to_fractions(M), reduced=True)[-1].matrix
    return R, pivot_columns(R)


def transpose(M: Matrix) -> Matrix:
    return tuple(zip(*M, strict=True))


# ---- random matrices with a known rank ----------------------------------------------------


def random_factors(d: int, r: int, k: int, seed: int, low: int = -3, high: int = 3):
    """B (d, r) and A (r, k) with random integer entries in [low, high]; B @ A has rank
    at most r, whatever d and k are."""
    for name, value in (("d", d), ("k", k), ("r", r)):
        if not isinstance(value, int) or value < (0 if name == "r" else 1):
            raise ValueError(f"{name} should be a positive integer, got {value!r}")
        if value > 4096:  # the lesson's bridge to LoRA goes up to 512
            raise ValueError(f"{name} should be at most 4096, got {value:,}")
    rng = np.random.default_rng(seed)
    B = rng.integers(low, high + 1, size=(d, r))  # (d, r)
    A = rng.integers(low, high + 1, size=(r, k))  # (r, k)
    return B, A


def random_matrix(m: int, n: int, r: int, seed: int) -> np.ndarray:
    """An (m, n) integer matrix of rank exactly r, built as B (m, r) @ A (r, n) and
    redrawn (deterministically from the seed) until the exact rank is r."""
    if not isinstance(r, int) or not 0 <= r <= min(m, n):
        raise ValueError(f"the rank r should be between 0 and min(m, n) = {min(m, n)}, got {r!r}")
    if max(m, n) > 64:  # its exact rank is checked by row reduction in fractions
        raise ValueError(f"m and n should be at most 64, got {m:,} x {n:,}")
    for attempt in range(1000):
        B, A = random_factors(m, r, n, seed + 7919 * attempt)
        M = B @ A  # (m, n)
        if rank(M.tolist()) == r:
            return M
    raise AssertionError("unreachable: a random integer product has full inner rank")


def preset(name: str, m: int = 0, n: int = 0, r: int = 0, seed: int = 0, text: str = ""):
    """The lesson's matrices, exact: (M, None), or (M, (B, A)) for the product.

    curriculum: CURRICULUM; outer: [1, 2, 3]^T [4, 1, 5, 6] (3, 4), rank 1; zero: (m, n);
    random: (m, n) integers of rank min(r, m, n); product: B (m, r) @ A (r, n);
    custom: ``text`` read by parse_matrix.
    """
    if name == "curriculum":
        return to_fractions(CURRICULUM), None
    if name == "outer":
        return to_fractions(np.outer(OUTER_COLUMN, OUTER_ROW)), None  # (3, 1) x (1, 4)
    if name == "zero":
        return to_fractions(np.zeros((m, n), dtype=int)), None
    if name == "random":
        return to_fractions(random_matrix(m, n, min(r, m, n), seed)), None
    if name == "product":
        B, A = random_factors(m, r, n, seed)  # (m, r), (r, n)
        return to_fractions(B @ A), (B, A)
    if name == "custom":
        return parse_matrix(text), None
    raise ValueError(
        f"unknown preset {name!r}: expected curriculum, outer, zero, random, product or custom"
    )


# ---- low rank (floats, SVD) ---------------------------------------------------------------


def svd(M) -> SVD:
    """Thin SVD via ``numpy.linalg.svd(M, full_matrices=False)``; M (m, n) real, finite."""
    if isinstance(M, np.ndarray) and M.ndim == 2 and M.size and np.issubdtype(M.dtype, np.number):
        M = M.astype(float)
        if not np.isfinite(M).all():
            i, j = np.argwhere(~np.isfinite(M))[0]
            raise ValueError(
                f"cell (row {i + 1}, column {j + 1}) is {M[i, j]}: expected a finite number"
            )
    else:
        M = np.array([[float(x) for x in row] for row in to_fractions(M)])
    U, s, Vt = np.linalg.svd(M, full_matrices=False)
    return SVD(M, U, s, Vt)


def tolerance(s: np.ndarray, shape: tuple[int, int]) -> float:
    """numpy's ``matrix_rank`` cut-off, s_max * max(m, n) * eps: singular values below it are
    rounding noise, so the numerical rank is ``(s > tolerance(s, shape)).sum()``."""
    return (float(s[0]) if len(s) else 0.0) * max(shape) * np.finfo(float).eps


def numerical_rank(s: np.ndarray, shape: tuple[int, int]) -> int:
    """How many singular values are above rounding noise (``tolerance``): numpy's
    ``matrix_rank`` of the (m, n) matrix they came from."""
    return int((np.asarray(s) > tolerance(np.asarray(s), shape)).sum())


def low_rank_from_svd(f: SVD, r: int) -> LowRank:
    """M_r = U[:, :r] diag(s[:r]) Vt[:r] and its error ||M - M_r||_F."""
    p = len(f.s)
    if isinstance(r, bool) or not isinstance(r, numbers.Integral) or not 0 <= r <= p:
        raise ValueError(f"r should be an integer between 0 and min(m, n) = {p}, got {r!r}")
    r = int(r)
    Mr = (f.U[:, :r] * f.s[:r]) @ f.Vt[:r]  # (m, r) diag(r) (r, n) -> (m, n)
    error = float(np.linalg.norm(f.M - Mr))
    return LowRank(Mr, f.s, error, r)


def low_rank_approx(M, r: int) -> LowRank:
    """The best rank-r approximation of M in the Frobenius (and spectral) norm.

    Eckart-Young (1936): with M = U diag(s) V^T (numpy's SVD), M_r keeps the r largest
    singular values, M_r = sum_{i<r} s_i u_i v_i^T, and ||M - M_r||_F = sqrt(sum_{i>=r} s_i^2).
    M: (m, n); 0 <= r <= min(m, n). Storing M_r as B (m, r) times A (r, n) takes
    r*(m + n) numbers instead of m*n.
    """
    return low_rank_from_svd(svd(M), r)


# ---- the pictures: a rank-1 matrix as column x row, the SVD as a sum of layers -------------


def rank_one_factors(M) -> tuple[tuple[Fraction, ...], tuple[Fraction, ...]] | None:
    """A rank-1 matrix as column times row, exactly: (c, r) with M[i][j] = c[i] * r[j].

    r is M's first non-zero row and c[i] = M[i][j] / r[j] at r's first non-zero column j,
    so c[0] = 1 when row 1 is non-zero: every row is c[i] times one row. For the notes'
    outer product this gives back [1, 2, 3] and [4, 1, 5, 6]. None unless rank(M) = 1.
    """
    A = to_fractions(M)
    if rank(A) != 1:
        return None
    row = next(r for r in A if any(r))  # (n,)
    j = next(k for k, a in enumerate(row) if a != 0)
    column = tuple(r[j] / row[j] for r in A)  # (m,)
    assert all(
        c * b == a for c, r in zip(column, A, strict=True) for a, b in zip(r, row, strict=True)
    )
    return column, row


def rank_one_layer(f: SVD, i: int) -> np.ndarray:
    """The i-th layer of the SVD (0-based), sigma_i u_i v_i^T: an (m, n) matrix of rank 1."""
    p = len(f.s)
    if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= i < p:
        raise ValueError(f"i should be an integer between 0 and {p - 1}, got {i!r}")
    return f.s[i] * np.outer(f.U[:, i], f.Vt[i])  # (m, 1) (1, n) -> (m, n)


def rank_one_layers(f: SVD) -> np.ndarray:
    """Every layer sigma_i u_i v_i^T, shape (p, m, n); they add up to M (p = min(m, n)).
    Adding the first r of them gives M_r, the best rank-r approximation."""
    return np.einsum("i,mi,in->imn", f.s, f.U, f.Vt)


def approximation_errors(f) -> np.ndarray:
    """||M - M_r||_F for r = 0, 1, ..., p, shape (p + 1,), from an SVD or its singular
    values: by Eckart-Young the root of the sum of the discarded sigma_i^2, so it falls as
    the layers add up and ends at 0."""
    s = f.s if isinstance(f, SVD) else np.asarray(f, dtype=float)
    if s.ndim != 1 or not np.isfinite(s).all() or (s < 0).any():
        raise ValueError(f"expected singular values (finite, >= 0, one axis), got {s!r}")
    tail = np.cumsum((s**2)[::-1])[::-1]  # tail[r] = sum_{i >= r} s_i^2
    return np.sqrt(np.append(tail, 0.0))


# ---- where the notes slip -------------------------------------------------------------------


@dataclass(frozen=True)
class NotesStep:
    """A row operation as the lecture notes wrote it, and the matrix they wrote after it."""

    op: str
    matrix: tuple[tuple[int, ...], ...]


# seeds/003 (the rank lecture) works CURRICULUM in two steps with two slips: R2 -> R2 - R1
# cannot give [0, 2, -1] (row 2 already starts with 0, and it is row 3 that changes), and
# with row 2 = [0, 4, 2] the second step needs a factor 1/2 and ends in [0, 0, -2].
NOTES_CURRICULUM_STEPS = (
    NotesStep("R2 -> R2 - R1", ((1, 2, 3), (0, 2, -1), (0, 2, 1))),
    NotesStep("R3 -> R3 - R2", ((1, 2, 3), (0, 2, -1), (0, 0, 2))),
)


def factor_storage(m: int, n: int, r: int) -> tuple[int, int]:
    """Numbers kept for an (m, n) matrix of rank r as B (m, r) times A (r, n), and as the
    matrix itself: (r (m + n), m n). 4096 x 4096 at r = 8: (65,536, 16,777,216)."""
    for name, value in (("m", m), ("n", n), ("r", r)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"{name} should be a non-negative integer, got {value!r}")
    return int(r) * (int(m) + int(n)), int(m) * int(n)


from core.checks import checked_module  # noqa: E402

checked_module(__name__)  # a wrong argument reaches the caller as a ValueError (core/checks.py)
