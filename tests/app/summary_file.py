#!/usr/bin/env python3
"""psample summary TRACE prints the same table (and warnings) as the end of the run.

usage: summary_file.py PSAMPLE TRACE -- run command...
"""
import subprocess
import sys


def table(text):
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.split()[:3] == ["mean", "mcse", "sd"])
    out = []
    for line in lines[start:]:
        if line.startswith("gradient evaluations"):
            break
        out.append(line)
    return "\n".join(out).strip()


def main():
    args = sys.argv[1:]
    split = args.index("--")
    psample, trace = args[:split]
    run = subprocess.run(args[split + 1:], capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        print("run failed", run.stdout, run.stderr, sep="\n")
        return 1
    # No mpirun: the summary needs no MPI.
    summ = subprocess.run([psample, "summary", trace], capture_output=True, text=True,
                          timeout=300)
    if summ.returncode != 0:
        print("summary failed", summ.stdout, summ.stderr, sep="\n")
        return 1
    a, b = table(run.stdout), table(summ.stdout)
    if a != b:
        print("FAILED: the tables differ\n--- run ---\n" + a + "\n--- summary ---\n" + b)
        return 1
    print(b)
    print(f"ok: {len(a.splitlines())} lines identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
