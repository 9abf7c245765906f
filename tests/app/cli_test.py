#!/usr/bin/env python3
"""Runs one psample command line and checks its exit status and output.

usage: cli_test.py [checks...] -- command...

checks:
  --exit N              the exit status must be N
  --stdout-has TEXT     standard output must contain TEXT (repeatable)
  --stderr-has TEXT     standard error must contain TEXT (repeatable)
  --stderr-count TEXT#N TEXT must occur exactly N times in standard error (repeatable)
  --stdout-toml K=V     standard output must be TOML whose key K (dotted) equals V
                        (compared as TOML values: --stdout-toml sampler.chains=4)
  --stdout-empty        standard output must be empty
"""
import subprocess
import sys
import tomllib


def main(argv):
    if "--" not in argv:
        print(__doc__)
        return 2
    split = argv.index("--")
    opts, cmd = argv[:split], argv[split + 1:]
    want_exit = None
    stdout_has, stderr_has, stderr_count, toml_checks = [], [], [], []
    stdout_empty = False
    i = 0
    while i < len(opts):
        o = opts[i]
        if o == "--stdout-empty":
            stdout_empty = True
            i += 1
            continue
        v = opts[i + 1]
        if o == "--exit":
            want_exit = int(v)
        elif o == "--stdout-has":
            stdout_has.append(v)
        elif o == "--stderr-has":
            stderr_has.append(v)
        elif o == "--stderr-count":
            text, n = v.rsplit("#", 1)
            stderr_count.append((text, int(n)))
        elif o == "--stdout-toml":
            toml_checks.append(v.split("=", 1))
        else:
            print(f"cli_test: unknown check {o}")
            return 2
        i += 2
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    failures = []
    if want_exit is not None and p.returncode != want_exit:
        failures.append(f"exit status {p.returncode}, expected {want_exit}")
    for t in stdout_has:
        if t not in p.stdout:
            failures.append(f"standard output lacks {t!r}")
    for t in stderr_has:
        if t not in p.stderr:
            failures.append(f"standard error lacks {t!r}")
    for t, n in stderr_count:
        got = p.stderr.count(t)
        if got != n:
            failures.append(f"standard error has {t!r} {got} times, expected {n}")
    if stdout_empty and p.stdout:
        failures.append("standard output is not empty")
    if toml_checks:
        try:
            doc = tomllib.loads(p.stdout)
        except tomllib.TOMLDecodeError as e:
            failures.append(f"standard output is not valid TOML: {e}")
            doc = None
        if doc is not None:
            for key, value in toml_checks:
                node = doc
                for part in key.split("."):
                    node = node.get(part) if isinstance(node, dict) else None
                want = tomllib.loads(f"v = {value}")["v"]
                if node != want:
                    failures.append(f"TOML key {key} is {node!r}, expected {want!r}")
    if failures:
        print("command:", " ".join(cmd))
        print("exit status:", p.returncode)
        print("--- standard output ---\n" + p.stdout)
        print("--- standard error ---\n" + p.stderr)
        for f in failures:
            print("FAILED:", f)
        return 1
    print("ok:", " ".join(cmd))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
