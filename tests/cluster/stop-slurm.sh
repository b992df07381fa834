#!/usr/bin/env bash
# stop-slurm.sh - stop the daemons start-slurm.sh started, and nothing else.
#
# Cancels the cluster's jobs first (so no job process outlives slurmd), then sends SIGTERM to
# each PID recorded in $CLINPROMPT_SLURM_DIR/run/*.pid whose process still has the expected
# name (a reused PID is left alone), SIGKILL after 15 s. Never signals processes by name.
#   --purge   also delete the state and the /etc/slurm files start-slurm.sh wrote (logs stay)
#   --quiet   say nothing when there is nothing to stop
set -uo pipefail

DIR=${CLINPROMPT_SLURM_DIR:-/var/tmp/clinprompt-slurm}
RUN=$DIR/run
MARK="# written by clinprompt tests/cluster/start-slurm.sh"
PURGE=0
QUIET=0
for arg in "$@"; do
  case $arg in
    --purge) PURGE=1 ;;
    --quiet) QUIET=1 ;;
    *) echo "usage: $0 [--purge] [--quiet]" >&2; exit 2 ;;
  esac
done
say() { [ "$QUIET" = 1 ] || echo "[stop-slurm] $*"; }

pid_of() { # name expected-command -> the recorded PID if that process still runs as expected
  local pid
  pid=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
  [ -d "/proc/$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] &&
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] && echo "$pid"
}

stop() { # name expected-command
  local pid
  if pid=$(pid_of "$1" "$2"); then
    echo "[stop-slurm] stopping $1 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 75); do pid_of "$1" "$2" >/dev/null || break; sleep 0.2; done
    if pid_of "$1" "$2" >/dev/null; then
      echo "[stop-slurm] $1 ignored SIGTERM: SIGKILL"
      kill -KILL "$pid" 2>/dev/null
    fi
  fi
  rm -f "$RUN/$1.pid"
}

if pid_of slurmctld slurmctld >/dev/null; then
  jobs=$(timeout 10 squeue -h -o %A 2>/dev/null | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    echo "[stop-slurm] cancelling jobs $jobs"
    # shellcheck disable=SC2086
    timeout 10 scancel $jobs
    for _ in $(seq 50); do
      [ -z "$(timeout 5 squeue -h -o %A 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
fi

stop slurmd slurmd
stop slurmctld slurmctld
stop slurmdbd slurmdbd
stop mariadbd mariadbd
stop munged munged

if [ "$PURGE" = 1 ]; then
  rm -rf "$DIR/state"
  for file in /etc/slurm/slurm.conf /etc/slurm/gres.conf /etc/slurm/slurmdbd.conf; do
    if [ -f "$file" ] && grep -qxF "$MARK" "$file"; then rm -f "$file"; fi
  done
  say "state purged"
fi
exit 0
