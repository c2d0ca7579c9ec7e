"""Ridge regression with one alpha per target chosen by exact leave-one-out (LOO) on the training set.

This reproduces scikit-learn ``RidgeCV(alphas, alpha_per_target=True)`` (intercept unpenalised, the
exact LOO error of its ``_RidgeGCV``), much faster for many targets:

* the centred training design ``Xc`` is decomposed once per training set: eigendecomposition of the
  Gram matrix ``Xc Xc'`` (n x n) when n <= p, of ``Xc' Xc`` (p x p) otherwise (sklearn's ``gcv_mode``
  "gram" / "cov"), all in float64 (small);
* with ``U`` (n, r) the eigenvectors with non-zero eigenvalue ``lam`` (r,), shrinkage
  ``s_k = alpha / (lam_k + alpha)``, ``Z = U' Yc`` and ``Yc`` the centred targets, the LOO residual of
  item i is ``(R0_i + sum_k U_ik s_k Z_k) / (c_i + sum_k U_ik^2 s_k)`` where ``R0 = Yc - U Z`` and
  ``c_i = 1 - 1/n - sum_k U_ik^2`` belong to the part of the centred item space that ``Xc`` does not
  span (both are exactly zero when ``Xc`` has full rank n - 1, the usual n < p case). This form has no
  cancellation at tiny alphas and no 1/alpha overflow at huge ones. When they are not zero the
  numerator is computed as the equal ``Yc_i + sum_k U_ik (s_k - 1) Z_k``, so R0 needs no GEMM;
* the scores of all alphas for a chunk of targets come from one GEMM ``(A n, r) x (r, T_chunk)``;
  alphas whose shrinkage vectors are identical at working precision (far outside the eigenvalue
  range) are scored once, which gives exactly the same choice as scoring each of them;
* ties go to the smallest alpha, as sklearn (it updates only on a strictly better score); LOO errors
  within ~84 eps of the working dtype of the lowest count as ties (see ``_select``). When Xc
  does not span the centred item space (n > p), shrinkage factors below eps/100 of the working dtype
  are flushed to zero (they change the LOO residual by less than its rounding error).

**Constant predictions.** Where the chosen alpha shrinks every direction to zero at working precision
(all ``s_k`` equal 1: the LOO error cannot tell the fit from the training mean), the prediction is the
training mean and Pearson r is undefined: it is reported as **NaN**, always (sklearn + scipy give a
constant prediction there too, or one whose only variation is rounding noise).

**FLOP model** (per fold: n training items, m test items, p features, r = rank of Xc <= min(n - 1, p),
T targets, A alphas of which A_u have distinct shrinkage at working precision):

* decomposition, once per fold and independent of T: centring O(n p), Gram matrix 2 n p min(n, p),
  ``eigh`` O(min(n, p)^3), all float64; preparation of ``M`` O(A_u n r); test projection
  ``(Xte - mean) Xc' U`` 2 m n (p + r);
* per target, all float32 GEMMs: ``Z = U' Yc`` 2 n r; the LOO numerators ``M Z`` **2 A_u n r** (the one
  large GEMM; with a complement it computes ``U (S - I) Z``, so that ``R0 = Yc - U Z`` costs no GEMM of
  its own); scoring (add the term ``Yc / d``, square, sum over items) 3 A_u n in one fused pass (numba,
  memory-bound); the choice A; refit and prediction from the same decomposition 2 m r; Pearson r ~8 m.

Total ~= 2 r T (A_u n + n + m) per fold: at stimulus level (900 items, 5 folds: n = 720, m = 180,
p = r = 384, A_u ~ 20-25 of the paper's 60) the large GEMM is over 90% of the work, so the solver runs
near the machine's float32 GEMM rate (benchmarks/encoding.py --stimulus measures the fraction).

Memory: the score GEMM holds ``n_unique_alphas * n_train * T_chunk`` values of the working dtype;
``T_chunk`` is chosen so that this stays under ``max_chunk_bytes`` (default 64 MiB), plus
O(n * T_chunk) for the chunk itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.analyses.encoding.scores import fold_mean, pearson_columns
from core.backend import ArrayNamespace
from core.errors import ParameterError
from core.progress import CancelToken, ProgressFn, check_cancel, no_progress

#: the paper's grid: ``[10**x for x in range(-30, 30)]`` (method.md §3.4), 60 values.
PAPER_ALPHAS = np.array([10.0**x for x in range(-30, 30)], dtype=np.float64)
#: eigenvalues below this fraction of the largest are treated as exact zeros (rank deficiency).
RANK_TOL = 1e-10
DEFAULT_CHUNK_BYTES = 64 * 2**20
#: LOO errors within this many units of the working dtype's eps (relative) of the lowest count as tied:
#: 1e-5 in float32 (well above the rounding error of a LOO error over a few hundred items), 2e-14 in
#: float64; see :func:`_select`
TIE_EPS = 84.0


@dataclass
class Decomposition:
    """Decomposition of one centred training design (float64).

    x_mean : (p,) training mean of X.
    U : (n, r) orthonormal basis of the column space of Xc, lam (r,) its eigenvalues of Xc Xc'.
    complement : (n,) leverage of the part of the centred item space Xc does not span, or None
        when Xc has full rank n - 1.
    """

    x_mean: np.ndarray
    Xc: np.ndarray
    U: np.ndarray
    lam: np.ndarray
    complement: np.ndarray | None

    @property
    def n(self) -> int:
        return self.U.shape[0]


def _eigh(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric eigendecomposition on one BLAS thread: multi-threaded LAPACK on these small matrices
    is 10-20x slower when the cores are busy."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return np.linalg.eigh(A)


def decompose(X: np.ndarray) -> Decomposition:
    """Centre ``X`` (n, p) and decompose it (float64); see the module docstring."""
    X = np.asarray(X, dtype=np.float64)
    n, p = X.shape
    if n < 3:
        raise ParameterError(f"ridge needs at least 3 training items, got {n}")
    x_mean = X.mean(axis=0)
    Xc = X - x_mean
    if n <= p:
        lam, Q = _eigh(Xc @ Xc.T)
        keep = lam > RANK_TOL * max(lam[-1], np.finfo(np.float64).tiny)
        U, lam = Q[:, keep], lam[keep]
    else:
        lam, V = _eigh(Xc.T @ Xc)
        keep = lam > RANK_TOL * max(lam[-1], np.finfo(np.float64).tiny)
        lam, V = lam[keep], V[:, keep]
        U = (Xc @ V) / np.sqrt(lam)
    complement = None
    if U.shape[1] < n - 1:
        complement = np.clip(1.0 - 1.0 / n - np.einsum("ik,ik->i", U, U), 0.0, None)
    return Decomposition(x_mean, Xc, U, lam, complement)


def _namespace(backend: str | None, device: str, dtype: str) -> ArrayNamespace:
    """The array namespace of a ridge run: numpy on the CPU (with the numba LOO kernel when installed),
    torch elsewhere; ``backend`` may force ``numpy`` or ``torch``."""
    name = backend or ("numpy" if device == "cpu" else "torch")
    if name not in ("numpy", "torch"):
        raise ParameterError(f"backend must be numpy or torch, got {name!r}")
    return ArrayNamespace(name, device, dtype)


@dataclass
class _Prepared:
    """Per-training-set state on the compute device."""

    dec: Decomposition
    alphas: np.ndarray
    inverse: np.ndarray  # (A,) unique-shrinkage row of each alpha
    constant: np.ndarray  # (A,) bool: the alpha's fit is the training mean at working precision
    M: object  # (A_u * n, r) stacked diag(1/d) U diag(s) per unique shrinkage
    inv_d: object  # (A_u, n, 1) or None
    Ut: object  # (r, n)
    n_unique: int
    G: np.ndarray  # (r, A) float64: 1 / (lam + alpha), 0 for constant-fit alphas (refit)
    undefined: np.ndarray  # (A,) bool: an item has no LOO residual at this alpha (never chosen)


def _prepare(dec: Decomposition, alphas: np.ndarray, xp: ArrayNamespace) -> _Prepared:
    lam = dec.lam
    shrink = alphas[:, None] / (lam[None, :] + alphas[:, None])  # (A, r) float64
    if dec.complement is None and lam.size:
        shrink = shrink / shrink.max(axis=1, keepdims=True)  # LOO residual is scale-free here
    else:  # next to the complement's residual, factors below eps/100 change nothing at working precision
        shrink[shrink < np.finfo(xp.np_dtype).eps / 100] = 0.0
    work = shrink.astype(xp.np_dtype)
    _, first, inverse = np.unique(work, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)  # unique rows in grid order
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    inverse = rank[np.asarray(inverse).reshape(-1)]
    s_u = work[first[order]].astype(np.float64)  # (A_u, r)
    constant = np.all(work == 1.0, axis=1) if lam.size else np.ones(len(alphas), bool)
    U = dec.U
    d = (U * U) @ s_u.T  # (n, A_u)
    if dec.complement is not None:
        d = d + dec.complement[:, None]
    with np.errstate(divide="ignore"):
        inv_d = 1.0 / d.T  # (A_u, n)
    # an item with d = 0 (all its leverage in directions this alpha leaves unshrunk) has no LOO
    # residual at this alpha: the alpha is never chosen (its LOO error counts as infinite)
    undefined = ~np.all(np.isfinite(inv_d), axis=1)  # (A_u,)
    inv_d[undefined] = 0.0
    # with a complement, fold R0 = Yc - U Z into the GEMM: U S Z + R0 = U (S - I) Z + Yc
    factors = s_u - 1.0 if dec.complement is not None else s_u
    dt = xp.np_dtype  # M is used in the working dtype: form it there, without float64 temporaries
    M = np.multiply(U.astype(dt)[None, :, :], factors.astype(dt)[:, None, :])  # (A_u, n, r)
    M *= inv_d.astype(dt)[:, :, None]
    n_u = s_u.shape[0]
    G = 1.0 / (lam[:, None] + alphas[None, :])  # (r, A)
    G[:, constant] = 0.0
    return _Prepared(
        dec=dec,
        alphas=alphas,
        inverse=inverse,
        constant=constant,
        M=xp.asarray(M.reshape(n_u * dec.n, -1)),
        inv_d=xp.asarray(inv_d[:, :, None]) if dec.complement is not None else None,
        Ut=xp.asarray(U.T),
        n_unique=n_u,
        G=G,
        undefined=undefined[inverse],
    )


def _chunk_size(n_unique: int, n: int, itemsize: int, max_bytes: int, n_targets: int) -> int:
    per_target = max(1, n_unique * n * itemsize)
    return int(max(1, min(n_targets, max_bytes // per_target)))


def _project(prep: _Prepared, Yc):
    """``Z = U' Yc`` (r, Tc)."""
    return prep.Ut @ Yc


def _loo_gemms(prep: _Prepared, Yc, xp: ArrayNamespace):
    """The chunk's GEMMs: ``Z = U' Yc`` (r, Tc) and the LOO numerators without the complement term,
    ``N = M Z`` (A_u n, Tc); with a complement the term to add is ``inv_d * Yc``."""
    Z = _project(prep, Yc)
    out = xp.workspace((prep.M.shape[0], Z.shape[1]))  # reused across chunks
    return Z, xp.matmul(prep.M, Z, out=out)  # the one large GEMM


def _loo_scores(prep: _Prepared, N, Yc, xp: ArrayNamespace) -> np.ndarray:
    """LOO mean squared errors float64 (A, Tc) from :func:`_loo_gemms`' output (N is overwritten)."""
    n = prep.dec.n
    if xp.compiled:
        from core.analyses.encoding._numba import loo_square_sums

        sums = np.empty((prep.n_unique, N.shape[1]), np.float64)
        if prep.inv_d is not None:
            loo_square_sums(N, n, np.ascontiguousarray(prep.inv_d[:, :, 0]), Yc, sums)
        else:
            empty = np.zeros((0, 0), N.dtype)
            loo_square_sums(N, n, empty, empty, sums)
        return _undefined_inf((sums / n)[prep.inverse], prep)
    N = N.reshape(prep.n_unique, n, -1)
    if prep.inv_d is not None:
        N += prep.inv_d * Yc[None]
    xp.square_(N)
    mse = xp.to_numpy(N.sum(1)) / n  # (A_u, Tc)
    return _undefined_inf(mse.astype(np.float64)[prep.inverse], prep)


def _undefined_inf(mse: np.ndarray, prep: _Prepared) -> np.ndarray:
    if prep.undefined.any():
        mse[prep.undefined] = np.inf
    return mse


def _loo_chunk(prep: _Prepared, Yc, xp: ArrayNamespace):
    """LOO mean squared errors (A, Tc) as numpy, and Z = U' Yc (r, Tc) on the device."""
    Z, N = _loo_gemms(prep, Yc, xp)
    return _loo_scores(prep, N, Yc, xp), Z


def _select(mse: np.ndarray, dtype) -> np.ndarray:
    """Index of the best alpha per target: the smallest alpha whose LOO error is within ``TIE_EPS`` eps
    of ``dtype`` (relative) of the lowest, sklearn's smallest-alpha rule extended to float32 near-ties
    (a target without signal, whose LOO errors at large alphas differ by less than their rounding), so
    that GEMM blocking rarely decides (1 flip in 49,020 folds between voxel chunks; 79 with argmin)."""
    mse = np.where(np.isnan(mse), np.inf, mse)  # a NaN error never wins (argmin would pick it)
    low = mse.min(axis=0)
    return np.argmax(mse <= low + TIE_EPS * np.finfo(dtype).eps * np.abs(low), axis=0)


def _fit_weights(prep: _Prepared, best: np.ndarray, Z, xp: ArrayNamespace, LU) -> np.ndarray:
    """``left @ U diag(1/(lam + alpha_t)) Z_t`` for every target t at once -> numpy (m, Tc).

    ``LU`` = ``xp.asarray(left @ U)`` (m, r), computed once per training set. Targets whose chosen alpha
    gives the training mean (``constant``) get 0.
    """
    W = xp.asarray(prep.G[:, best]) * Z
    return xp.to_numpy((W.T @ LU.T).T)  # this orientation is 2-4x faster in OpenBLAS for small m


@dataclass
class CVScores:
    """Cross-validated ridge scores.

    r : float64 (n_folds, T) Pearson r on each held-out fold (NaN: constant prediction, see module doc).
    alpha : float64 (n_folds, T) chosen alpha per fold and target.
    loo_mse : float64 (n_folds, T) LOO mean squared error of the chosen alpha on the training fold.
    predictions : float32 (n_items, T) out-of-fold predictions, when requested.
    """

    r: np.ndarray
    alpha: np.ndarray
    loo_mse: np.ndarray
    predictions: np.ndarray | None = None

    @property
    def mean_r(self) -> np.ndarray:
        """Fold-mean r per target (NaN folds skipped; NaN when every fold is NaN)."""
        return fold_mean(self.r)


def ridge_cv_scores(
    X: np.ndarray,
    Y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    alphas: np.ndarray = PAPER_ALPHAS,
    device: str = "cpu",
    dtype: str = "float32",
    backend: str | None = None,
    max_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    return_predictions: bool = False,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> CVScores:
    """Per-target ridge with LOO alpha selection inside each training fold, scored on the test fold.

    X : (n_items, p) features; Y : (n_items, T) targets; folds : (train_idx, test_idx) pairs.
    Equivalent to fitting sklearn ``RidgeCV(alphas, alpha_per_target=True)`` on each training fold and
    taking Pearson r of its predictions on the test fold.
    """
    X = np.asarray(X)
    Y = np.asarray(Y)
    if Y.ndim == 1:
        Y = Y[:, None]
    if X.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ParameterError(f"X {X.shape} and Y {Y.shape} do not have the same number of items")
    alphas = np.asarray(alphas, dtype=np.float64).reshape(-1)
    if not alphas.size or np.any(alphas <= 0):
        raise ParameterError("alphas must be positive")
    xp = _namespace(backend, device, dtype)
    n_folds, T = len(folds), Y.shape[1]
    r = np.full((n_folds, T), np.nan)
    alpha_out = np.full((n_folds, T), np.nan)
    loo = np.full((n_folds, T), np.nan)
    preds = np.zeros(Y.shape, np.float32) if return_predictions else None
    for f, (train, test) in enumerate(folds):
        check_cancel(cancel)
        dec = decompose(X[train])
        prep = _prepare(dec, alphas, xp)
        LU = xp.asarray(((np.asarray(X[test], np.float64) - dec.x_mean) @ dec.Xc.T) @ dec.U)  # (n_te, r)
        chunk = _chunk_size(prep.n_unique, dec.n, xp.np_dtype.itemsize, max_chunk_bytes, T)
        for start in range(0, T, chunk):
            check_cancel(cancel)
            cols = slice(start, min(T, start + chunk))
            Ytr = np.asarray(Y[train, cols], dtype=np.float64)
            y_mean = Ytr.mean(axis=0)
            Yc = xp.asarray(Ytr - y_mean)
            mse, Z = _loo_chunk(prep, Yc, xp)
            best = _select(mse, xp.np_dtype)
            alpha_out[f, cols] = alphas[best]
            loo[f, cols] = mse[best, np.arange(best.size)]
            pred = _fit_weights(prep, best, Z, xp, LU)
            score = pearson_columns(pred, Y[test, cols])
            score[prep.constant[best]] = np.nan
            r[f, cols] = score
            if preds is not None:
                preds[np.ix_(test, np.arange(cols.start, cols.stop))] = pred + y_mean
            progress((f + (cols.stop / T)) / n_folds, f"ridge fold {f + 1}/{n_folds}")
    return CVScores(r, alpha_out, loo, preds)


class RidgeLOO:
    """Ridge with per-target alpha chosen by exact LOO, scikit-learn style (cf. ``RidgeCV``).

    Parameters
    ----------
    alphas : candidate alphas (default: the paper's 60, 1e-30 ... 1e29).
    device : ``cpu`` (numpy) or a torch device (``cuda``...); dtype : ``float32`` or ``float64``.

    Attributes after ``fit``: ``alpha_`` (T,), ``best_score_`` (T,) negative LOO MSE (sklearn's
    ``best_score_``), ``coef_`` (T, p), ``intercept_`` (T,), ``constant_`` (T,) bool.
    """

    def __init__(self, alphas=PAPER_ALPHAS, device: str = "cpu", dtype: str = "float64",
                 backend: str | None = None, max_chunk_bytes: int = DEFAULT_CHUNK_BYTES):
        self.alphas = alphas
        self.device = device
        self.dtype = dtype
        self.backend = backend
        self.max_chunk_bytes = max_chunk_bytes

    def fit(self, X: np.ndarray, Y: np.ndarray) -> RidgeLOO:
        Y = np.asarray(Y, dtype=np.float64)
        Y2 = Y[:, None] if Y.ndim == 1 else Y
        alphas = np.asarray(self.alphas, dtype=np.float64).reshape(-1)
        xp = _namespace(self.backend, self.device, self.dtype)
        dec = decompose(X)
        prep = _prepare(dec, alphas, xp)
        T = Y2.shape[1]
        y_mean = Y2.mean(axis=0)
        chunk = _chunk_size(prep.n_unique, dec.n, xp.np_dtype.itemsize, self.max_chunk_bytes, T)
        LU = xp.asarray(dec.Xc.T @ dec.U)
        coef = np.zeros((dec.Xc.shape[1], T))
        self.alpha_ = np.empty(T)
        self.best_score_ = np.empty(T)
        self.constant_ = np.empty(T, bool)
        for start in range(0, T, chunk):
            cols = slice(start, min(T, start + chunk))
            mse, Z = _loo_chunk(prep, xp.asarray(Y2[:, cols] - y_mean[cols]), xp)
            best = _select(mse, xp.np_dtype)
            self.alpha_[cols] = alphas[best]
            self.best_score_[cols] = -mse[best, np.arange(best.size)]
            self.constant_[cols] = prep.constant[best]
            coef[:, cols] = _fit_weights(prep, best, Z, xp, LU)
        self.coef_ = coef.T
        self.intercept_ = y_mean - dec.x_mean @ coef
        if Y.ndim == 1:
            self.coef_, self.intercept_ = self.coef_[0], float(self.intercept_[0])
            self.alpha_, self.best_score_ = float(self.alpha_[0]), float(self.best_score_[0])
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ np.asarray(self.coef_).T + self.intercept_
