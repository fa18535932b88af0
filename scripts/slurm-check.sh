#!/usr/bin/env bash
# The README's Slurm recipe on a one-node cluster started for this check and stopped after it.
#
#   sudo scripts/slurm-check.sh        # from anywhere; CI runs it from .ci/run (1–3 minutes on 2 cores)
#
# Needs Debian's munge, slurmctld, slurmd and slurm-client, and root (slurmd starts each job as
# its owner). Everything lives in a fresh temporary directory: a munge key made on the spot, a
# slurm.conf for this machine (one node, 2 CPUs, no cgroups, no accounting, free ports), the
# daemons' state and logs. munged, slurmctld and slurmd run in the foreground of this script
# (no systemd) and are stopped when it exits, however it exits.
#
# The check, with scripts/sweep-array.sbatch on the small sweep scripts/sweep-slurm-check.yaml:
#   1. the job array (shard i/4 in task i) and the collect job waiting for it (afterok);
#   2. task 1 is cancelled (scancel) once its first configuration has finished: its collect job can
#      then never start and Slurm cancels it (--kill-on-invalid-dep); the task is resubmitted alone,
#      skips the configuration it finished, and a new collect job waits for it;
#   3. the collected results.csv, and the table over its seeds (seeds.csv), must equal those of the
#      same sweep run at once, in one process.
# Job ids and states are logged. Exit 0: passed, or skipped (the tools are missing or this is not
# root: one line says so); 1: failed (the directory with the daemons' logs is kept).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
t0=$SECONDS
log() { printf 'slurm-check %3ds: %s\n' $((SECONDS - t0)) "$*"; }
skip() {
  echo "slurm-check: skipped: $*"
  exit 0
}

for tool in munged mungekey munge slurmctld slurmd sbatch squeue sinfo scancel scontrol; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool not found (apt-get install munge slurmctld slurmd slurm-client)"
done
[ "$(id -u)" = 0 ] || skip "needs root (slurmd starts each job as its owner); run it with sudo"

# a caller's Slurm settings (SBATCH_ARRAY_INX, SLURM_CONF, …) must not reach this cluster
while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(SLURM|SBATCH|SQUEUE|SINFO|SCANCEL|SCONTROL)_')

work="$(mktemp -d /tmp/seqlab-slurm.XXXXXX)"
chmod 755 "$work" # munged wants its socket's directory searchable by all
mkdir -p "$work/state" "$work/spool"
pids=() # the daemons, in start order
passed=0

live_steps() {
  local f
  for f in "$work"/spool/*; do [ -S "$f" ] && return 0; done
  return 1
}
stop_all() {
  local jobs p i
  if [ "${#pids[@]}" -ge 2 ] && kill -0 "${pids[1]}" 2>/dev/null; then
    jobs="$(squeue -h -o %A 2>/dev/null | sort -u)"
    if [ -n "$jobs" ]; then
      log "cancelling jobs still queued: $(echo $jobs)"
      scancel $jobs 2>/dev/null
      for ((i = 0; i < 30; i++)); do
        [ -z "$(squeue -h -o %A 2>/dev/null)" ] && break
        sleep 0.5
      done
    fi
  fi
  # each job's slurmstepd keeps a socket in the spool directory until it exits
  for ((i = 0; i < 30; i++)); do
    live_steps || break
    sleep 0.5
  done
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  # anything started for this check names the work directory (the daemons' files, the sweep's --out)
  for ((i = 0; i < 20; i++)); do
    p="$(pgrep -f "$work" | grep -vx "$$")"
    [ -z "$p" ] && break
    sleep 0.5
  done
  if [ -n "$p" ]; then
    log "processes left behind, killed: $(ps -o pid=,args= -p "$(echo $p | tr ' ' ,)" | tr '\n' ';')"
    kill -9 $p 2>/dev/null
    passed=0
  fi
  if [ "$passed" = 1 ]; then
    rm -rf "$work"
    echo "slurm-check: passed in $((SECONDS - t0)) s (daemons stopped, no processes left)"
  else
    for f in "$work"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -n 15 "$f"; }; done
    echo "slurm-check: FAILED after $((SECONDS - t0)) s; logs in $work"
  fi
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  log "FAILED: $*"
  exit 1
}

# Wait until `$2` prints something matching the regex $3, for at most $1 seconds.
wait_for() {
  local deadline=$((SECONDS + $1))
  until eval "$2" 2>/dev/null | grep -Eq "$3"; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.5
  done
}

# One line per job (array tasks as ARRAY_TASK): "id STATE reason".
job_states() {
  scontrol -o show job "$1" 2>/dev/null | awk '{
    id = ""; a = ""; t = ""; s = ""; r = "";
    for (i = 1; i <= NF; i++) {
      k = substr($i, 1, index($i, "=") - 1); v = substr($i, index($i, "=") + 1);
      if (k == "JobId") id = v; else if (k == "ArrayJobId") a = v; else if (k == "ArrayTaskId") t = v;
      else if (k == "JobState") s = v; else if (k == "Reason") r = v;
    }
    print (a != "" ? a "_" t : id), s, r;
  }' | sort -V
}
ACTIVE='PENDING|CONFIGURING|RUNNING|COMPLETING|SUSPENDED|REQUEUED|RESIZING|STAGE_OUT|SIGNALING'
# Wait until every job of $2 has ended (at most $1 seconds), then log their states.
wait_ended() {
  local deadline=$((SECONDS + $1))
  while job_states "$2" | awk '{print $2}' | grep -Eqx "$ACTIVE"; do
    [ "$SECONDS" -ge "$deadline" ] && fail "job $2 still running after $1 s: $(job_states "$2" | tr '\n' ';')"
    sleep 1
  done
  log "job $2 ended: $(job_states "$2" | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2} END {print ""}')"
}
state_of() { job_states "$1" | awk -v id="$1" '$1 == id {print $2}'; }

free_port() {
  local p
  for p in $(shuf -i 20000-60999 -n 40); do
    [ "$p" = "${1:-}" ] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}

# --- the cluster ---------------------------------------------------------------------------------
if [ ! -f dist/src/cli/main.js ]; then
  log "building seqlab (npm run build)"
  npm run build --silent >"$work/build.log" 2>&1 || fail "npm run build failed (see $work/build.log)"
fi
node_name="$(hostname -s)" # slurmd registers under this name; slurm.conf must use it
cpus=$(($(nproc) < 2 ? $(nproc) : 2))
memory_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
ctld_port="$(free_port)" && slurmd_port="$(free_port "$ctld_port")" || fail "no free TCP port found"

# munged refuses a key readable by others; it runs as root here, so root owns the key
mungekey --create --keyfile="$work/munge.key" || fail "mungekey could not write $work/munge.key"
chmod 400 "$work/munge.key"
: >"$work/plugstack.conf" # no SPANK plugins, whatever /etc/slurm holds
cat >"$work/slurm.conf" <<EOF
ClusterName=seqlabcheck
SlurmctldHost=$node_name(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge.socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
PlugStackConfig=$work/plugstack.conf
# no cgroups: processes are tracked through /proc, tasks are not bound
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
# a cancelled job gets SIGTERM, then SIGKILL after KillWait seconds
KillWait=5
# finished jobs stay visible to scontrol for the whole check
MinJobAge=900
NodeName=$node_name NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=check Nodes=$node_name Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$work/slurm.conf"

munged --foreground --key-file="$work/munge.key" --socket="$work/munge.socket" \
  --pid-file="$work/munged.pid" --seed-file="$work/munged.seed" >"$work/munged.log" 2>&1 &
pids+=($!)
wait_for 10 "munge -n -S '$work/munge.socket'" . || fail "munged did not start"
# -D: stay in the foreground, logging to stderr; the state directory is empty, nothing to recover
slurmctld -D -f "$SLURM_CONF" >"$work/slurmctld.log" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$node_name" >"$work/slurmd.log" 2>&1 &
pids+=($!)
wait_for 60 "sinfo -h -N -n '$node_name' -o %T" '^idle$' ||
  fail "node $node_name not idle after 60 s: $(sinfo -h -N -o '%N %T %E' 2>&1 | head -n 1)"
log "cluster up: munged, slurmctld (port $ctld_port), slurmd (port $slurmd_port), pids ${pids[*]}"
log "node $node_name idle: $cpus CPUs, ${memory_mb} MB; work directory $work"

# --- the job array and its collect job, as in the README ------------------------------------------
export SWEEP=scripts/sweep-slurm-check.yaml OUT="$work/sweep" SHARDS=4
collect_cmd="node bin/seqlab.js sweep --collect $OUT --quiet"
submit() { sbatch --parsable "$@" | cut -d';' -f1; }
array="$(submit --array=0-3 --output="$work/job-%A_%a.log" scripts/sweep-array.sbatch)" ||
  fail "sbatch of the array failed"
collect="$(submit --dependency=afterok:"$array" --kill-on-invalid-dep=yes --output="$work/job-%j.log" \
  --job-name=seqlab-collect --wrap "$collect_cmd")" || fail "sbatch of the collect job failed"
log "submitted array job $array (tasks 0-3: shard i/4 of $SWEEP) and collect job $collect (afterok:$array)"

victim="${array}_1"
wait_for 120 "cat '$work/job-$victim.log'" '^\[1/2\] .* finished' ||
  fail "task $victim did not finish its first configuration in 120 s"
[ "$(state_of "$victim")" = RUNNING ] || fail "task $victim is $(state_of "$victim"), not running"
scancel "$victim" || fail "scancel $victim failed"
log "task $victim finished its first configuration: scancel $victim"
wait_ended 150 "$array"
[ "$(job_states "$array" | awk '{print $1, $2}' | tr '\n' ' ')" = \
  "${array}_0 COMPLETED ${victim} CANCELLED ${array}_2 COMPLETED ${array}_3 COMPLETED " ] ||
  fail "the array should end with task 1 cancelled and the others completed"
wait_ended 30 "$collect"
[ "$(state_of "$collect")" = CANCELLED ] ||
  fail "collect job $collect is $(state_of "$collect") after a cancelled task, not CANCELLED"
# Slurm has signalled every process of the cancelled task (none may outlive its job)
left="$(pgrep -f "$OUT")" && fail "processes of the cancelled task outlived it: $(echo $left)"
pending="$(node bin/seqlab.js sweep "$SWEEP" --out "$OUT" --shard 1/4 --dry-run | head -n 1)"
log "after the cancel: $pending"
[[ "$pending" == *"2 of 8 configurations, 1 finished"* ]] ||
  fail "shard 1/4 should have 1 of its 2 configurations finished"

# --- the cancelled task resubmitted alone, and a new collect job --------------------------------
again="$(submit --array=1 --output="$work/job-%A_%a.log" scripts/sweep-array.sbatch)" ||
  fail "sbatch of the resubmitted task failed"
collect2="$(submit --dependency=afterok:"$again" --kill-on-invalid-dep=yes --output="$work/job-%j.log" \
  --job-name=seqlab-collect --wrap "$collect_cmd")" || fail "sbatch of the second collect job failed"
log "resubmitted task 1 as job $again (sbatch --array=1) and collect job $collect2 (afterok:$again)"
wait_ended 120 "$again"
[ "$(state_of "${again}_1")" = COMPLETED ] || fail "resubmitted task ${again}_1 did not complete"
grep -q '1 already finished, 1 to run' "$work/job-${again}_1.log" ||
  fail "resubmitted task did not resume: $(grep -m1 'seqlab: sweep' "$work/job-${again}_1.log")"
log "${again}_1: $(grep -m1 -o 'shard 1/4: .* to run' "$work/job-${again}_1.log")"
wait_ended 60 "$collect2"
[ "$(state_of "$collect2")" = COMPLETED ] ||
  fail "collect job $collect2 did not complete: $(tail -n 3 "$work/job-$collect2.log")"

# --- the same sweep at once ------------------------------------------------------------------------
log "the same sweep at once: node bin/seqlab.js sweep $SWEEP --workers $cpus"
node bin/seqlab.js sweep "$SWEEP" --out "$work/whole" --workers "$cpus" --quiet >"$work/whole.log" 2>&1 ||
  fail "the sweep at once failed: $(tail -n 1 "$work/whole.log")"
cmp -s "$OUT/results.csv" "$work/whole/results.csv" ||
  fail "results.csv differs: $(diff "$OUT/results.csv" "$work/whole/results.csv" | head -n 5 | tr '\n' ';')"
log "results.csv of the collected shards equals the sweep at once ($(($(wc -l <"$OUT/results.csv") - 1)) rows)"
cmp -s "$OUT/seeds.csv" "$work/whole/seeds.csv" ||
  fail "seeds.csv differs: $(diff "$OUT/seeds.csv" "$work/whole/seeds.csv" | head -n 5 | tr '\n' ';')"
log "seeds.csv (over seeds $(sed -n 2p "$OUT/seeds.csv" | cut -d, -f3)) equals too ($(($(wc -l <"$OUT/seeds.csv") - 1)) configurations)"
passed=1
