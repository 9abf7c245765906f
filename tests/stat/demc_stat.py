#!/usr/bin/env python3
"""Population samplers end to end: psample (under mpirun, DEMetropolis or DEMetropolisZ
with the population spread over the ranks) recovers targets with known moments, judged in
Monte Carlo standard errors (DESIGN.md Section 12; the rules of tests/stat/stat_util.h).

usage: demc_stat.py CASE PSAMPLE MPIEXEC RANKS MODEL_DIR WORKDIR -- [--set ...]

CASE
  gauss   gauss_corr with D = 10: means 0.3 (i - 1), sds 0.5 .. 5 (step 0.5), AR(1)
          correlation 0.7 (condition number about 500). Judged: 10 means, 10 sds and the
          correlations of (x1, x2) and (x6, x7).
  banana  the twisted Gaussian (tests/models/banana.c) with b = 0.03: x1 = 10 y1 and
          x2 = y2 + 100 b - b x1^2 with y1, y2 independent standard normals. Judged: the
          means and sds of the untwisted y1 and y2, their correlation, E x2 = 0 and
          P(x1 < 0) = 1/2. (The sd of x2 itself, sqrt(1 + 20000 b^2), is not judged: its
          estimate has the heavy tail of x1^4, so at a few hundred effective draws its
          error is far from normal and MCSE units mislead; y2 carries the same
          information about the twist with a Gaussian's estimator.)

Options after the command line of the case (before --): --accept LO,HI asks that the
mean acceptance (sample_stats/accepted) over all sampling draws lies in [LO, HI].

Judging. For each quantity z = (estimate - truth) / mcse. mcse comes from the effective
sample size of the draws (Geyer's initial monotone sequence over the chains' combined
autocorrelations, as Stan and Vehtari et al. 2021 compute ess_mean): mcse of a mean is
sd / sqrt(ess); of an sd s, mcse((x - m)^2) / (2 s); of a correlation, the mcse of the
mean of the standardised product. The test fails when any |z| > 4.5, when more
quantities than the binomial bound k have |z| > 3 (k the smallest count with
P(Binomial(m, 0.0027) > k) < 1e-4), or when a judged quantity has split R-hat >= 1.05.
With m quantities the false-failure rate is at most m * 6.8e-6 + 1e-4 (printed): about
2.5e-4 for the 22 quantities of gauss, 1.5e-4 for the 7 of banana. As a check of this
script's own estimator, its mcse of every mean must agree with the mcse column of
psample's summary table (src/diag) within 25%.
"""
import json
import math
import os
import re
import subprocess
import sys

import h5py
import numpy as np

Z_MAX = 4.5
P3 = math.erfc(3 / math.sqrt(2))
P45 = math.erfc(Z_MAX / math.sqrt(2))


def autocov(x):
    """Autocovariances of each chain (rows), lags 0..n-1, biased (divided by n)."""
    m, n = x.shape
    xc = x - x.mean(axis=1, keepdims=True)
    f = np.fft.rfft(xc, n=2 * n)
    return np.fft.irfft(f * np.conj(f), n=2 * n)[:, :n] / n


def ess(x):
    """ess_mean of draws x[chain, draw] (Vehtari et al. 2021, Sec. 3.2, without ranks)."""
    m, n = x.shape
    acov = autocov(x)
    chain_var = acov[:, 0] * n / (n - 1)
    w = chain_var.mean()
    b_over_n = x.mean(axis=1).var(ddof=1) if m > 1 else 0.0
    var_plus = w * (n - 1) / n + b_over_n
    if var_plus <= 0:
        return float("nan")
    rho = 1.0 - (w - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    # Geyer: sums of adjacent pairs while positive, made monotone.
    total, prev, t = 0.0, float("inf"), 0
    while 2 * t + 1 < n:
        p = rho[2 * t] + rho[2 * t + 1]
        if p <= 0:
            break
        p = min(p, prev)
        total += p
        prev = p
        t += 1
    tau = -1.0 + 2.0 * total
    return m * n / max(tau, 1.0 / math.log10(m * n))


def split_rhat(x):
    m, n = x.shape
    half = n // 2
    y = np.concatenate([x[:, :half], x[:, n - half:]])
    w = y.var(axis=1, ddof=1).mean()
    b = half * y.mean(axis=1).var(ddof=1)
    return math.sqrt(((half - 1) / half * w + b / half) / w)


class Judge:
    def __init__(self):
        self.rows, self.failures = [], []

    def z(self, name, kind, est, truth, se, draws):
        z = (est - truth) / se
        rhat = split_rhat(draws)
        self.rows.append((name, kind, est, truth, se, z, rhat))
        flag = "  (|z| > 3)" if abs(z) > 3 else ""
        print(f"{name:>12} {kind:>5} {est:12.5g} {truth:12.5g} {se:10.3g} {z:+7.2f} "
              f"rhat {rhat:.4f}{flag}")
        if not (abs(z) < Z_MAX):
            self.failures.append(f"{kind} of {name} is {est:.6g}, expected {truth:.6g} "
                                 f"+/- {Z_MAX} MCSE ({se:.4g}): z = {z:.2f}")
        if not rhat < 1.05:
            self.failures.append(f"split R-hat of {name} ({kind}) is {rhat:.4f}, expected < 1.05")

    def mean_sd(self, name, x, mean, sd):
        n_ess = ess(x)
        s = x.std(ddof=1)
        self.z(name, "mean", x.mean(), mean, s / math.sqrt(n_ess), x)
        d = (x - x.mean()) ** 2
        se_var = d.std(ddof=1) / math.sqrt(ess(d))
        self.z(name, "sd", s, sd, se_var / (2 * s), x)
        return s / math.sqrt(n_ess)

    def mean_of(self, name, kind, y, truth):
        self.z(name, kind, y.mean(), truth, y.std(ddof=1) / math.sqrt(ess(y)), y)

    def finish(self):
        m = len(self.rows)
        k = 0
        while binom_tail(m, P3, k) > 1e-4:
            k += 1
        over3 = sum(abs(r[5]) > 3 for r in self.rows)
        rate = 1 - (1 - P45) ** m + binom_tail(m, P3, k)
        print(f"{m} quantities, {over3} with |z| > 3 (allowed {k}); false-failure rate "
              f"<= {rate:.1e}")
        if over3 > k:
            self.failures.append(f"{over3} of {m} quantities have |z| > 3, at most {k} expected")


def binom_tail(m, p, k):
    return max(0.0, 1.0 - sum(math.comb(m, x) * p**x * (1 - p) ** (m - x) for x in range(k + 1)))


def table_mcse(stdout):
    """The mcse column of psample's summary table, by quantity name."""
    rows, inside = {}, False
    for line in stdout.splitlines():
        f = line.split()
        if f[:3] == ["mean", "mcse", "sd"]:
            inside = True
            continue
        if inside:
            if not f:
                break
            rows[f[0]] = float(f[2])
    return rows


def main():
    args = sys.argv[1:]
    split = args.index("--")
    case, psample, mpiexec, ranks, model_dir, workdir = args[:6]
    opts, extra = args[6:split], args[split + 1:]
    accept = None
    if opts and opts[0] == "--accept":
        accept = tuple(float(v) for v in opts[1].split(","))
    os.makedirs(workdir, exist_ok=True)
    data = os.path.join(workdir, f"{case}.json")
    config = os.path.join(workdir, f"{case}.toml")
    trace = os.path.join(workdir, f"{case}.h5")
    if case == "gauss":
        d = 10
        mu = 0.3 * np.arange(d)
        sd = 0.5 * (1 + np.arange(d))
        corr = 0.7 ** np.abs(np.subtract.outer(np.arange(d), np.arange(d)))
        sigma = np.outer(sd, sd) * corr
        json.dump({"D": d, "mu": mu.tolist(), "Sigma": sigma.tolist()}, open(data, "w"))
        library = "gauss_corr.so"
    elif case == "banana":
        b = 0.03
        json.dump({"b": b}, open(data, "w"))
        library = "banana.so"
    else:
        print(f"unknown case {case}")
        return 2
    with open(config, "w") as f:
        f.write(f'[model]\nlibrary = "{os.path.join(model_dir, library)}"\n'
                f'[data]\nfile = "{data}"\n[output]\nfile = "{trace}"\n')
    cmd = [mpiexec, "-n", ranks, "--oversubscribe", psample, config, "--force"] + extra
    print(" ".join(cmd))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        print("psample failed:", p.stdout[-3000:], p.stderr[-3000:], sep="\n")
        return 1
    print(p.stdout[p.stdout.find("psample "):p.stdout.find("\n\n", p.stdout.find("psample "))])
    with h5py.File(trace, "r") as f:
        x = f["posterior/x"][()]  # [chain, draw, d]
        accepted = f["sample_stats/accepted"][()]
        lam = f["sample_stats/lambda"][()]
        scaling = f["sample_stats/scaling"][()]
    os.remove(trace)
    print(f"draws: {x.shape[0]} chains x {x.shape[1]}; acceptance {accepted.mean():.3f}; "
          f"lambda {lam.min():.4g}..{lam.max():.4g}; scaling {scaling.min():.3g}.."
          f"{scaling.max():.3g}")
    judge = Judge()
    mcse_table = table_mcse(p.stdout)
    print(f"{'quantity':>12} {'kind':>5} {'estimate':>12} {'truth':>12} {'se':>10} {'z':>7}")
    if case == "gauss":
        for i in range(d):
            se = judge.mean_sd(f"x[{i + 1}]", x[:, :, i], mu[i], sd[i])
            got = mcse_table.get(f"x[{i + 1}]")
            if got is None or not (abs(got - se) <= 0.25 * se):
                judge.failures.append(f"mcse of the mean of x[{i + 1}]: this script {se:.4g}, "
                                      f"psample's table {got}: the estimators disagree")
        for a, c in ((0, 1), (5, 6)):
            y = (x[:, :, a] - mu[a]) * (x[:, :, c] - mu[c]) / (sd[a] * sd[c])
            judge.mean_of(f"x[{a + 1}],x[{c + 1}]", "corr", y, corr[a, c])
    else:
        y1 = x[:, :, 0] / 10.0
        y2 = x[:, :, 1] + b * x[:, :, 0] ** 2 - 100.0 * b
        judge.mean_sd("y1", y1, 0.0, 1.0)
        judge.mean_sd("y2", y2, 0.0, 1.0)
        judge.mean_of("y1,y2", "corr", y1 * y2, 0.0)
        judge.mean_of("x[2]", "mean", x[:, :, 1], 0.0)
        judge.mean_of("x[1]<0", "prob", (x[:, :, 0] < 0).astype(float), 0.5)
    judge.finish()
    if accept is not None and not (accept[0] <= accepted.mean() <= accept[1]):
        judge.failures.append(f"mean acceptance {accepted.mean():.3f} is outside the expected "
                              f"band [{accept[0]}, {accept[1]}]")
    for f in judge.failures:
        print("FAILED:", f)
    return 1 if judge.failures else 0


if __name__ == "__main__":
    sys.exit(main())
