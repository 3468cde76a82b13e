"""Penalised (MAP) Poisson log-linear regression solved by damped Newton steps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from services.planogram.types import FloatArray


@dataclass(frozen=True, slots=True)
class GlmFit:
    """MAP estimate, its Laplace covariance and convergence facts."""

    theta: FloatArray
    cov: FloatArray
    iterations: int
    converged: bool


def _objective(eta: FloatArray, y: FloatArray, theta: FloatArray, m: FloatArray, p: FloatArray) -> float:
    d = theta - m
    return float(np.dot(y, eta) - np.exp(eta).sum() - 0.5 * np.dot(p * d, d))


def fit_poisson_map(
    x: sp.csr_matrix,
    y: FloatArray,
    offset: FloatArray,
    prior_mean: FloatArray,
    prior_prec: FloatArray,
    theta0: FloatArray,
    *,
    max_iter: int = 30,
    tol: float = 1e-7,
) -> GlmFit:
    """Maximise sum(y*eta - exp(eta)) - 0.5*(theta-m)'P(theta-m), eta = X theta + offset, P diagonal."""
    theta = theta0.astype(np.float64).copy()
    xt = x.T.tocsr()
    eta = np.asarray(x @ theta) + offset
    obj = _objective(eta, y, theta, prior_mean, prior_prec)
    h = np.eye(len(theta))
    converged = False
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - reported after the loop
        mu = np.exp(eta)
        grad = np.asarray(xt @ (y - mu)) - prior_prec * (theta - prior_mean)
        h = (xt @ sp.diags(mu) @ x).toarray() + np.diag(prior_prec)
        try:
            step = scipy.linalg.solve(h, grad, assume_a="pos")
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            step = np.linalg.lstsq(h, grad, rcond=None)[0]
        t = 1.0
        while True:
            cand = theta + t * step
            eta_c = np.asarray(x @ cand) + offset
            obj_c = _objective(eta_c, y, cand, prior_mean, prior_prec)
            if obj_c >= obj - 1e-12 or t < 1e-6:
                break
            t *= 0.5
        theta, eta = cand, eta_c
        gain, obj = obj_c - obj, obj_c
        if float(np.max(np.abs(t * step))) < tol or abs(gain) < tol * (1.0 + abs(obj)):
            converged = True
            break
    mu = np.exp(eta)
    h = (xt @ sp.diags(mu) @ x).toarray() + np.diag(prior_prec)
    try:
        cov = scipy.linalg.inv(h)
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        cov = np.linalg.pinv(h)
    return GlmFit(theta, np.asarray(cov, dtype=np.float64), iterations, converged)
