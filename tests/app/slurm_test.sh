#!/usr/bin/env bash
# shellcheck disable=SC2317 # functions called from traps
# The Slurm templates (scripts/slurm/*.sbatch) under a real Slurm started on this machine:
# a job is told to stop mid-run, psample checkpoints and exits 3, the job requeues itself,
# resumes and finishes, and its trace must be bit-identical to an uninterrupted run's.
#
# usage: slurm_test.sh PSAMPLE MODEL_LIBRARY DATA_JSON TEMPLATE...
#
# The first template: requeue with scontrol requeue (allowed only by its #SBATCH
# --requeue: the cluster has JobRequeue=0); then on its finished trace, as a restart (ends
# with 0 at once) and as a new job (psample refuses the trace: 1, no requeue); then
# cancelled with a plain scancel (checkpoint, CANCELLED, no requeue) and submitted again
# (resumes). Every other template: submitted with --no-requeue, so it takes the sbatch
# fallback and resumes in a new job.
#
# Installs nothing: Slurm and munge come from `scripts/install-deps --slurm`. Skips (exit
# 77) with the reason when they are missing, when not run as root, or when the daemons do
# not start. Starts munged, slurmctld and slurmd by hand (no systemd) with every file in a
# temporary folder and every address on loopback, and stops all of them and every process
# of their jobs on exit, also on failure. Bounded in time by its own deadline (below
# CTest's TIMEOUT, so that the cleanup always runs).
#
# Why the stop request is sent with `scancel --batch --signal=USR1` instead of waiting for
# the time limit: slurmctld checks the --signal lead time in a periodic background pass
# (the sbatch man page: the signal may come up to 60 s early), and the shortest --time is
# one minute, so a time-limit signal cannot be placed inside a run of a few seconds, and a
# requeued job with the same limit would be signalled again. `scancel --batch` makes
# slurmctld and slurmd deliver the same signal that `#SBATCH --signal=B:USR1@...` delivers
# (USR1 to the batch shell only) at a moment the test chooses: when the job's log shows
# psample sampling. The jobs are submitted with a lead time shorter than their time limit
# so that the periodic pass never fires on its own.
#
# Environment: PSAMPLE_SLURM_TEST_KEEP=1 keeps the temporary folder (logs, traces);
# PSAMPLE_SLURM_TEST_DRAWS sets the sampling iterations per chain (default 400000, every
# 400th kept), which must last a few seconds for the stop request to land mid-run.
set -uo pipefail

if [ $# -lt 4 ]; then
  echo "usage: $0 PSAMPLE MODEL_LIBRARY DATA_JSON TEMPLATE..." >&2
  exit 2
fi
psample=$1 model=$2 data=$3
shift 3
templates=("$@")
here=$(cd "$(dirname "$0")" && pwd)
python=${PSAMPLE_PYTHON:-/usr/bin/python3}
[ -x "$python" ] || python=python3
draws=${PSAMPLE_SLURM_TEST_DRAWS:-400000}
thin=$((draws / 1000 > 0 ? draws / 1000 : 1))

start=$SECONDS
deadline=$((SECONDS + 240)) # the whole test; CTest's TIMEOUT is larger
say() { printf '[slurm-test %3ds] %s\n' "$((SECONDS - start))" "$*"; }
skip() {
  say "SKIP: $*"
  exit 77
}
failures=0
fail() {
  say "FAILED: $*"
  failures=$((failures + 1))
}
abort() {
  say "FAILED: $*"
  failures=$((failures + 1))
  show_logs
  exit 1
}
left() { # seconds left before the deadline, at least 1
  local s=$((deadline - SECONDS))
  echo $((s > 0 ? s : 1))
}

# ---- What must be here ----
[ "$(id -u)" -eq 0 ] || skip "must run as root: slurmd launches jobs as their owner and the test runs slurmctld, slurmd and munged as root (SlurmUser=root)"
for cmd in munged munge slurmctld slurmd sbatch scontrol sinfo squeue scancel srun mpirun timeout; do
  command -v "$cmd" >/dev/null 2>&1 ||
    skip "'$cmd' not found: install Slurm and munge with scripts/install-deps --slurm"
done
for f in "$psample" "$model" "$data" "${templates[@]}"; do
  [ -e "$f" ] || skip "$f does not exist (build psample first)"
done
psample=$(realpath "$psample") model=$(realpath "$model") data=$(realpath "$data")
for i in "${!templates[@]}"; do templates[i]=$(realpath "${templates[i]}"); done
"$python" -c 'import h5py, numpy' 2>/dev/null || skip "$python cannot import h5py and numpy"

# ---- Temporary cluster folder and cleanup ----
tmp=$(mktemp -d "${TMPDIR:-/tmp}/psample-slurm.XXXXXX") || abort "mktemp failed"
# munged wants the path to its socket executable by all.
chmod 755 "$tmp"
mkdir -p "$tmp"/{munge,state,spool,log,jobs}
chmod 755 "$tmp/munge"
# Every daemon and job process carries this variable: cleanup finds leftovers by it.
export PSAMPLE_SLURM_TEST="$tmp"
export SLURM_CONF="$tmp/slurm.conf"

show_logs() {
  local f
  for f in "$tmp"/log/*.log "$tmp"/munge/munged.log "$tmp"/jobs/*.out; do
    [ -s "$f" ] || continue
    echo "----- last lines of $f"
    tail -n 40 "$f"
  done
}
pid_of() { # pid in a pid file, if that process still runs
  local p
  p=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
}
stop_pid() { # PID NAME: SIGTERM, up to 5 s, then SIGKILL
  local p=$1 i
  kill -TERM "$p" 2>/dev/null || return 0
  for i in $(seq 50); do
    kill -0 "$p" 2>/dev/null || return 0
    sleep 0.1
  done
  say "cleanup: $2 (pid $p) ignored SIGTERM, killing it"
  kill -KILL "$p" 2>/dev/null || true
}
leftovers() { # pids of processes started by this test (by the variable in their environment)
  local d p vars
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
    mapfile -d '' vars 2>/dev/null <"$d/environ" || continue
    case " ${vars[*]} " in *" PSAMPLE_SLURM_TEST=$tmp "*) echo "$p" ;; esac
  done
}
cleanup() {
  local p jobs n=0
  trap - EXIT INT TERM
  if pid_of "$tmp/slurmctld.pid" >/dev/null; then
    jobs=$(timeout 10 squeue -h -o %i 2>/dev/null)
    if [ -n "$jobs" ]; then
      say "cleanup: cancelling jobs $jobs"
      # shellcheck disable=SC2086 # one word per job id
      timeout 10 scancel $jobs 2>/dev/null
      sleep 2
    fi
  fi
  for name in slurmd slurmctld munge/munged; do
    p=$(pid_of "$tmp/$name.pid") && stop_pid "$p" "${name#*/}"
  done
  # Job processes left behind (slurmstepd, batch shells, launchers, psample ranks).
  for p in $(leftovers); do
    kill -KILL "$p" 2>/dev/null && n=$((n + 1))
  done
  [ "$n" -gt 0 ] && say "cleanup: killed $n leftover job processes"
  if [ "${PSAMPLE_SLURM_TEST_KEEP:-0}" = 1 ] || [ "$failures" -gt 0 ]; then
    say "kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'abort "interrupted"' INT TERM

# ---- The run: configuration and the uninterrupted reference ----
cpus=$(nproc)
np=$((cpus >= 2 ? 2 : 1))
cat >"$tmp/run.toml" <<EOF
[model]
library = "$model"

[data]
file = "$data"

[sampler]
chains = 4
warmup = 300
draws = $draws
thin = $thin
seed = 20261124

[convergence]
# Few convergence checks: each is a collective that is slow on an oversubscribed machine,
# and a stop request then lands inside a block of 20000 iterations (the checkpoint holds
# the unfinished block's draws).
check_every = 20000

[output]
file = "$tmp/unused.h5"
EOF
export PSAMPLE_PROGRESS_SECONDS=0.5
# Open MPI on loopback too: mpirun's daemons talk over 127.0.0.1, and the ranks (all on
# this node) through shared memory, without TCP.
export OMPI_MCA_oob_tcp_if_include=127.0.0.0/8 OMPI_MCA_btl=self,vader
say "reference: mpirun -n $np psample run (draws=$draws, thin=$thin), uninterrupted"
timeout "$(left)" mpirun -n "$np" "$psample" run "$tmp/run.toml" \
  --set "output.file=$tmp/reference.h5" >"$tmp/reference.out" 2>"$tmp/reference.err"
rc=$?
[ "$rc" -eq 0 ] || abort "the reference run exited with $rc: $(tail -n 5 "$tmp/reference.err")"
ref_digest=$(sed -n 's/^draws digest: \([0-9a-f]\{16\}\)$/\1/p' "$tmp/reference.out")
[ -n "$ref_digest" ] || abort "the reference run printed no draws digest"
say "reference: draws digest $ref_digest ($((SECONDS - start)) s so far)"

# ---- Slurm configuration, all on loopback ----
read -r ctld_port slurmd_port < <("$python" -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))') || abort "could not find free ports"
node=$(hostname -s)
# The hardware line of this node as slurmd sees it (CPUs, sockets, cores, memory), so the
# node registers without being drained for a mismatch.
hw=$(slurmd -C 2>/dev/null | head -n 1 | sed -n 's/^NodeName=[^ ]* //p')
[ -n "$hw" ] || hw="CPUs=$cpus"
cat >"$SLURM_CONF" <<EOF
# Written by $0: a one-node cluster on loopback for one test.
ClusterName=psampletest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
# Listen on the address the names resolve to (loopback), not on every address.
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# The test's own munged; requeued jobs wait cred_expire seconds (minimum 5) to start again.
AuthInfo=socket=$tmp/munge/munge.sock,cred_expire=5
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
# Jobs are requeueable only when they ask (the templates' #SBATCH --requeue).
JobRequeue=0
KillWait=5
MinJobAge=600
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$node NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=10 State=UP
EOF

# MpiDefault=pmix when Slurm has its PMIx plugin (srun lists its MPI plugins offline).
mpi_default=none
if timeout 10 srun --mpi=list 2>&1 | grep -qw pmix; then
  mpi_default=pmix
  sed -i 's/^MpiDefault=none$/MpiDefault=pmix/' "$SLURM_CONF"
fi

# ---- Daemons ----
dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge/munge.key"
timeout 30 munged --socket="$tmp/munge/munge.sock" --key-file="$tmp/munge/munge.key" \
  --log-file="$tmp/munge/munged.log" --pid-file="$tmp/munge/munged.pid" \
  --seed-file="$tmp/munge/munged.seed" ||
  skip "munged did not start: $(tail -n 3 "$tmp/munge/munged.log" 2>/dev/null)"
timeout 10 munge -n -S "$tmp/munge/munge.sock" | timeout 10 unmunge -S "$tmp/munge/munge.sock" >/dev/null ||
  skip "munged started but does not answer on $tmp/munge/munge.sock"
say "munged up (socket $tmp/munge/munge.sock)"
timeout 30 slurmctld -f "$SLURM_CONF" -i ||
  { show_logs; skip "slurmctld did not start (log above)"; }
timeout 30 slurmd -f "$SLURM_CONF" -N "$node" ||
  { show_logs; skip "slurmd did not start (log above)"; }
up_by=$((SECONDS + 30))
state=""
while [ "$SECONDS" -lt "$up_by" ]; do
  state=$(timeout 5 sinfo -h -n "$node" -o %t 2>/dev/null)
  [ "$state" = idle ] && break
  sleep 0.5
done
[ "$state" = idle ] ||
  { show_logs; skip "node $node not idle 30 s after starting the daemons (state '$state')"; }
say "slurmctld (port $ctld_port) and slurmd (port $slurmd_port) up, node $node idle, MpiDefault=$mpi_default"

# ---- One template: submit, stop mid-run, requeue, resume, finish, compare ----
job_field() { # JOBID FIELD: one field of scontrol show job
  timeout 10 scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p"
}
wait_end() { # JOBID: waits until the job has ended (or the deadline); sets jstate
  # (a loop in this shell, not in a $(...) subshell, so that the INT/TERM trap runs)
  jstate=""
  while [ "$SECONDS" -lt "$deadline" ]; do
    jstate=$(job_field "$1" JobState)
    case "$jstate" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE) return ;; esac
    sleep 0.5
  done
}
check_job() { # NAME JOBID RESTARTS: the job completed with exit code 0 after RESTARTS requeues
  local code n
  wait_end "$2"
  code=$(job_field "$2" ExitCode)
  n=$(job_field "$2" Restarts)
  say "$1: job $2 ended $jstate, ExitCode=$code, Restarts=$n"
  [ "$jstate" = COMPLETED ] || fail "$1: job $2 ended ${jstate:-?}, expected COMPLETED"
  [ "$code" = 0:0 ] || fail "$1: job $2 exit code ${code:-?}, expected 0:0"
  [ "$n" = "$3" ] || fail "$1: job $2 was requeued ${n:-?} times, expected $3"
}
# run_template TEMPLATE requeue|resubmit
#   requeue: the job requeues itself with scontrol requeue (the template's #SBATCH
#     --requeue is what allows it: this cluster has JobRequeue=0);
#   resubmit: the job is submitted with --no-requeue, so scontrol requeue fails and the
#     template's fallback submits it again with sbatch.
run_template() {
  local template=$1 how=$2 name out trace jobid job2="" line sent="" sbatch_extra=()
  jstate=""
  name=$(basename "$template" .sbatch)
  out="$tmp/jobs/$name.out"
  trace="$tmp/$name.h5"
  if [ "$name" = psample-srun ] && [ "$mpi_default" != pmix ]; then
    say "$name: SKIPPED, Slurm's pmix plugin (mpi_pmix.so) is not installed"
    return
  fi
  [ "$how" = resubmit ] && sbatch_extra=(--no-requeue)
  # Command-line options override the template's #SBATCH lines: a small allocation, the
  # test's log file, and a lead time far from the time limit (see the top of this file).
  # PSAMPLE_SBATCH_ARGS gives a resubmitted job the same options and log file.
  local opts=(--output="$out" --nodes=1 --ntasks="$np" --ntasks-per-node="$np" --time=5
    --signal=B:USR1@10)
  jobid=$(PSAMPLE_CONFIG="$tmp/run.toml" PSAMPLE="$psample" \
    PSAMPLE_ARGS="--set output.file=$trace" PSAMPLE_MAX_RESTARTS=3 \
    PSAMPLE_SBATCH_ARGS="${opts[*]}" \
    timeout 20 sbatch --parsable --chdir="$tmp" "${opts[@]}" "${sbatch_extra[@]}" "$template")
  [ -n "$jobid" ] || { fail "$name: sbatch failed"; return; }
  say "$name: submitted job $jobid ($how)"

  # Wait until psample is sampling, then ask the batch shell to stop.
  while [ "$SECONDS" -lt "$deadline" ]; do
    line=$(grep -a '^psample: sampling' "$out" 2>/dev/null | tail -n 1)
    if [ -n "$line" ]; then
      timeout 10 scancel --batch --signal=USR1 "$jobid" && sent=$line
      break
    fi
    jstate=$(job_field "$jobid" JobState)
    case "$jstate" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) break ;; esac
    sleep 0.2
  done
  if [ -z "$sent" ]; then
    fail "$name: never saw psample sampling in $out (job state '$jstate')"
    return
  fi
  say "$name: sent USR1 to the batch shell (scancel --batch) at: $sent"

  local steps=(
    "no checkpoint \S+: starting the run"
    "received SIGUSR1: asking psample .* to checkpoint and stop"
    "psample run exited with status 3"
    "requeueing job $jobid \(restart 1 of at most 3\)")
  if [ "$how" = requeue ]; then
    check_job "$name" "$jobid" 1
    steps+=("job $jobid on .* restart 1")
  else
    check_job "$name" "$jobid" 0
    job2=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' "$out" | tail -n 1)
    if [ -z "$job2" ]; then
      fail "$name: no 'Submitted batch job' line in $out"
    else
      say "$name: the job submitted itself again as job $job2"
      check_job "$name" "$job2" 0
    fi
    steps+=("scontrol requeue failed; submitting \S+ again with sbatch"
      "job ${job2:-NONE} on .* restart 1")
  fi
  steps+=("checkpoint \S+ exists: resuming"
    "psample resume exited with status 0"
    "run finished")
  echo "----- $name: the job's log (psample-job lines, Slurm's and psample's last words)"
  grep -a -E '^psample-job:|^draws digest|^Submitted batch job|^Requested operation|^psample: stopped|^psample: sampling .*ETA 0s|error' \
    "$out" |
    sed 's/^/    /'
  # What the template must have done, in this order.
  "$python" - "$out" "${steps[@]}" <<'EOF' || fail "$name: the job's log lacks a step of stop, checkpoint, requeue, resume (above)"
import re, sys
log = open(sys.argv[1], errors="replace").read()
pos = 0
for step in sys.argv[2:]:
    m = re.compile(r"^psample-job: \S+ " + step, re.M).search(log, pos)
    if not m:
        print(f"    missing after offset {pos}: psample-job: ... {step}")
        sys.exit(1)
    pos = m.end()
EOF
  local printed
  printed=$(sed -n 's/^draws digest: \([0-9a-f]\{16\}\)$/\1/p' "$out" | tail -n 1)
  [ "$printed" = "$ref_digest" ] ||
    fail "$name: the resumed run printed draws digest '${printed:-none}', the uninterrupted run $ref_digest"
  say "$name: comparing $trace with the uninterrupted run"
  "$python" "$here/slurm_compare.py" "$tmp/reference.h5" "$trace" "$ref_digest" ||
    fail "$name: the trace differs from the uninterrupted run's"
}

# The first template again on its finished trace: as a restart with no checkpoint (as if
# Slurm requeued the job after psample had finished) it must find the trace complete and
# end with 0 without sampling; as a new job it must refuse the existing trace (psample run
# exits 1) and end with 1, not requeue.
run_again() {
  local template=$1 name out trace jobid code n
  name=$(basename "$template" .sbatch)
  trace="$tmp/$name.h5"
  [ -e "$trace" ] || return
  for how in restart new; do
    out="$tmp/jobs/$name-$how.out"
    jobid=$(PSAMPLE_CONFIG="$tmp/run.toml" PSAMPLE="$psample"       PSAMPLE_ARGS="--set output.file=$trace" PSAMPLE_RESUBMITS=$([ $how = restart ] && echo 1 || echo 0)       timeout 20 sbatch --parsable --chdir="$tmp" --output="$out" --nodes=1 --ntasks="$np" \
      --ntasks-per-node="$np" --time=5 --signal=B:USR1@10 "$template")
    [ -n "$jobid" ] || { fail "$name ($how): sbatch failed"; continue; }
    wait_end "$jobid"
    code=$(job_field "$jobid" ExitCode)
    n=$(job_field "$jobid" Restarts)
    say "$name ($how, finished trace): job $jobid ended $jstate, ExitCode=$code, Restarts=$n"
    grep -a '^psample-job:' "$out" | sed 's/^/    /'
    if [ $how = restart ]; then
      [ "$jstate/$code" = COMPLETED/0:0 ] ||
        fail "$name: a restart on a finished trace ended $jstate $code, expected COMPLETED 0:0"
      grep -qa "the trace \S* is complete (stop reason: draws): run finished" "$out" ||
        fail "$name: a restart on a finished trace did not say that the run had finished"
    else
      [ "$jstate/$code" = FAILED/1:0 ] ||
        fail "$name: a new job over an existing trace ended $jstate $code, expected FAILED 1:0"
      grep -qa "already exists" "$out" ||
        fail "$name: a new job over an existing trace did not print psample's refusal"
      grep -qa "input error: .* not requeueing" "$out" ||
        fail "$name: a new job over an existing trace did not say it is not requeued"
    fi
    [ "$n" = 0 ] || fail "$name ($how): job $jobid was requeued $n times, expected 0"
  done
  "$python" "$here/slurm_compare.py" "$tmp/reference.h5" "$trace" "$ref_digest" >/dev/null ||
    fail "$name: the finished trace changed after the jobs that found it finished"
}

# The first template cancelled mid-run with a plain scancel (SIGTERM to every process of
# the job): psample must still checkpoint, the job must end CANCELLED without requeueing or
# resubmitting itself, and submitting the script again must resume and finish the run.
run_cancel() {
  local template=$1 name out trace jobid line="" n
  name=$(basename "$template" .sbatch)
  out="$tmp/jobs/$name-cancel.out"
  trace="$tmp/$name-cancel.h5"
  if [ "$name" = psample-srun ] && [ "$mpi_default" != pmix ]; then
    return
  fi
  jobid=$(PSAMPLE_CONFIG="$tmp/run.toml" PSAMPLE="$psample" PSAMPLE_ARGS="--set output.file=$trace" \
    timeout 20 sbatch --parsable --chdir="$tmp" --output="$out" --nodes=1 --ntasks="$np" \
    --ntasks-per-node="$np" --time=5 --signal=B:USR1@10 "$template")
  [ -n "$jobid" ] || { fail "$name (cancel): sbatch failed"; return; }
  while [ "$SECONDS" -lt "$deadline" ] && [ -z "$line" ]; do
    line=$(grep -a '^psample: sampling' "$out" 2>/dev/null | tail -n 1)
    [ -n "$line" ] || sleep 0.2
  done
  timeout 10 scancel "$jobid"
  say "$name: cancelled job $jobid (scancel: SIGTERM to the job) at: $line"
  wait_end "$jobid"
  sleep 1
  n=$(timeout 10 squeue -h -o %i | wc -l)
  say "$name (cancel): job $jobid ended $jstate; $n job(s) queued after it"
  grep -a -E '^psample-job:|^psample: stopped|^slurmstepd' "$out" | sed 's/^/    /'
  [ "$jstate" = CANCELLED ] || fail "$name: a cancelled job ended ${jstate:-?}, expected CANCELLED"
  [ "$n" = 0 ] || fail "$name: a cancelled job left $n job(s) in the queue (requeued or resubmitted)"
  grep -qa "received SIGTERM" "$out" || fail "$name: the cancelled job's script did not see SIGTERM"
  grep -qa "stopped by SIGTERM .*not requeueing" "$out" ||
    fail "$name: the cancelled job's script did not say that it is not requeueing"
  [ -e "$trace.ckpt" ] || fail "$name: no checkpoint $trace.ckpt after the cancel"

  out="$tmp/jobs/$name-cancel-resume.out"
  jobid=$(PSAMPLE_CONFIG="$tmp/run.toml" PSAMPLE="$psample" PSAMPLE_ARGS="--set output.file=$trace" \
    timeout 20 sbatch --parsable --chdir="$tmp" --output="$out" --nodes=1 --ntasks="$np" \
    --ntasks-per-node="$np" --time=5 --signal=B:USR1@10 "$template")
  [ -n "$jobid" ] || { fail "$name (cancel): sbatch failed"; return; }
  check_job "$name (submitted again)" "$jobid" 0
  grep -a '^psample-job:' "$out" | sed 's/^/    /'
  grep -qa "checkpoint \S* exists: resuming" "$out" ||
    fail "$name: the job submitted after the cancel did not resume"
  "$python" "$here/slurm_compare.py" "$tmp/reference.h5" "$trace" "$ref_digest" ||
    fail "$name: the trace of the cancelled and resumed run differs from the uninterrupted run's"
}

run_template "${templates[0]}" requeue
run_again "${templates[0]}"
run_cancel "${templates[0]}"
for template in "${templates[@]:1}"; do
  run_template "$template" resubmit
done

if [ "$failures" -gt 0 ]; then
  show_logs
  say "$failures check(s) failed"
  exit 1
fi
say "passed in $((SECONDS - start)) s"
exit 0
