#!/usr/bin/env python3
"""Smoke test of the benchmark harness (scripts/bench/run) on eight schools.

usage: bench_smoke.py RUN_SCRIPT PSAMPLE MODELS_DIR DATA_JSON OUT_DIR

Runs two tiny repetitions of the eight_schools case without ../shared (data given with
--data NAME=PATH), then checks: one JSON per run with the run report and the harness's
record; a Markdown table whose medians and ranges are those of the reports; no Stan
column (no baseline, and the settings differ from Stan's run); the same table from
--from; a Stan column and ratio with a baseline whose run matches these settings; and
a clear error for an unknown case.
"""
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
    return cond


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def row(text, label):
    """The cells of the table row starting with label (first occurrence)."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == label:
            return cells
    return None


def close(cell, value, rel=2e-3):
    try:
        x = float(cell)
    except ValueError:
        return False
    return abs(x - value) <= rel * max(abs(value), 1e-12)


def main(argv):
    if len(argv) != 5:
        print(__doc__)
        return 2
    script, psample, models, data, out = argv
    shutil.rmtree(out, ignore_errors=True)
    base = [sys.executable, script, "--psample", psample, "--models", models, "--no-shared",
            "--data", f"eight_schools_noncentered.json={data}"]
    code, stdout, stderr = run(base + ["eight_schools", "--reps", "2", "--seed", "3",
                                       "--set", "sampler.warmup=60", "--set", "sampler.draws=40",
                                       "--out", out])
    if not check(code == 0, f"harness exit status {code}, expected 0; stderr:\n{stderr}"):
        return report()

    # One JSON per run: psample's report and the harness's record.
    reports = []
    for seed in (3, 4):
        found = glob.glob(os.path.join(out, "eight_schools*", f"s{seed}.json"))
        if not check(len(found) == 1, f"expected one run file eight_schools*/s{seed}.json in "
                     f"{out}, found {found}"):
            continue
        path = found[0]
        with open(path) as f:
            r = json.load(f)
        reports.append(r)
        b = r.get("bench", {})
        check(b.get("exit") == 0 and b.get("seed") == seed and b.get("case") == "eight_schools",
              f"{path}: bench record is {b}, expected exit 0, seed {seed}, case eight_schools")
        check(f"sampler.seed={seed}" in b.get("command", ""),
              f"{path}: the command does not set the seed: {b.get('command')}")
        check(r.get("chains") == 4 and r.get("warmup_iterations") == 60 and
              r.get("draws_per_chain") == 40,
              f"{path}: chains/warmup/draws are {r.get('chains')}/{r.get('warmup_iterations')}/"
              f"{r.get('draws_per_chain')}, expected 4/60/40")
        check((r.get("gradient_evaluations") or {}).get("total", 0) > 0,
              f"{path}: no gradient evaluations in the report")
        check(len((r.get("per_chain") or {}).get("step_size", [])) == 4,
              f"{path}: the report has no per-chain step sizes")
    if len(reports) != 2:
        return report()

    # The table: medians and ranges of the reports' figures, no Stan column.
    check("### eight_schools" in stdout, "no table heading '### eight_schools' in:\n" + stdout)
    check("| figure | median | min – max |" in stdout and "Stan |" not in stdout,
          "expected a table without a Stan column, got:\n" + stdout)
    for label, key in (("bulk-ESS / leapfrog (sampling)", "ess_bulk_per_leapfrog_sampling"),
                       ("min bulk-ESS", "min_ess_bulk"),
                       ("µs / leapfrog (sampling)", "us_per_leapfrog_sampling")):
        vals = [r[key] for r in reports]
        cells = row(stdout, label)
        if not check(cells is not None and len(cells) == 3, f"no row '{label}' of 3 cells"):
            continue
        check(close(cells[1], statistics.median(vals)),
              f"row '{label}': median {cells[1]}, expected {statistics.median(vals):.6g}")
        lo_hi = re.split(r"\s+–\s+", cells[2])
        check(len(lo_hi) == 2 and close(lo_hi[0], min(vals)) and close(lo_hi[1], max(vals)),
              f"row '{label}': range {cells[2]}, expected {min(vals):.6g} – {max(vals):.6g}")
    for name in ("summary.md", "summary.json"):
        check(os.path.isfile(os.path.join(out, name)), f"no {name} in {out}")

    # The same table again from the stored runs.
    code, again, stderr = run(base + ["--from", out])
    check(code == 0 and row(again, "min bulk-ESS") == row(stdout, "min bulk-ESS"),
          f"--from: exit {code}, table differs:\n{again}\n{stderr}")

    # A baseline whose run has these settings gives a Stan column and the ratio.
    fake = os.path.join(out, "baseline.json")
    stan_value = 0.0625
    with open(fake, "w") as f:
        json.dump({"runs": {"eight_schools_noncentered": {
            "control": "default", "settings": {"chains": 4, "iter": 100, "warmup": 60},
            "ess_bulk_per_grad_sampling": stan_value}}}, f)
    code, with_stan, stderr = run(base + ["--from", out, "--baseline", fake])
    cells = row(with_stan, "bulk-ESS / leapfrog (sampling)")
    med = statistics.median(r["ess_bulk_per_leapfrog_sampling"] for r in reports)
    if check(code == 0 and cells is not None and len(cells) == 5,
             f"with a matching baseline: exit {code}, expected a 5-column row, got:\n"
             f"{with_stan}\n{stderr}"):
        check(close(cells[3], stan_value) and close(cells[4], med / stan_value),
              f"Stan column {cells[3]} and ratio {cells[4]}, expected {stan_value} and "
              f"{med / stan_value:.6g}")
    check("min bulk-ESS" in with_stan and row(with_stan, "min bulk-ESS")[3] == "–",
          "a figure the baseline lacks must show '–' in the Stan column")

    # A baseline run with other settings: no Stan column, and the reason.
    with open(fake, "w") as f:
        json.dump({"runs": {"eight_schools_noncentered": {
            "control": "default", "settings": {"chains": 4, "iter": 2000, "warmup": 1000},
            "ess_bulk_per_grad_sampling": stan_value}}}, f)
    code, other, _ = run(base + ["--from", out, "--baseline", fake])
    check(code == 0 and "No Stan column: warmup_iterations is 60" in other
          and "Stan |" not in other, "a baseline with other settings must not be compared:\n"
          + other)

    # An unknown case is a clear error.
    code, _, stderr = run(base + ["no_such_case", "--out", out])
    check(code == 2 and "unknown case or group 'no_such_case'" in stderr,
          f"unknown case: exit {code}, stderr {stderr!r}")
    return report()


def report():
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print("bench harness smoke test passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
