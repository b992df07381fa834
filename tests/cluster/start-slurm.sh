#!/usr/bin/env bash
# start-slurm.sh - a throw-away single-node SLURM cluster on this machine, for tests/test_slurm.py
# (and for trying `snakemake --profile slurm` without a real cluster).
#
# Starts munged (unless one already answers), MariaDB + slurmdbd (accounting, so `sacct`
# works), slurmctld and slurmd on localhost, with:
#   partitions  cpu (default) and gpu, both on this node
#   account     clinprompt (user root belongs to it)
#   GPUs        $CLINPROMPT_SLURM_GPUS fake GPUs of type "fake" (gres/gpu:fake), default 2
# Debian's packages (SLURM 22.05, munge, MariaDB) are installed with apt when missing.
# Needs root and no systemd-managed SLURM on the machine; refuses to overwrite an
# /etc/slurm/slurm.conf it did not write. Every daemon's PID goes to $DIR/run/*.pid, and
# stop-slurm.sh stops exactly those. Running it again restarts from a clean state.
#
#   CLINPROMPT_SLURM_DIR   state, logs and PID files (default /var/tmp/clinprompt-slurm)
#   CLINPROMPT_SLURM_GPUS  number of fake GPUs (default 2)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${CLINPROMPT_SLURM_DIR:-/var/tmp/clinprompt-slurm}
GPUS=${CLINPROMPT_SLURM_GPUS:-2}
RUN=$DIR/run
LOG=$DIR/log
STATE=$DIR/state
ETC=/etc/slurm
MARK="# written by clinprompt tests/cluster/start-slurm.sh"
CLUSTER=clinprompt-ci
ACCOUNT=clinprompt
NODE=$(hostname -s)
DB_PORT=3307
STARTED=$SECONDS

say() { printf '[start-slurm %3ds] %s\n' $((SECONDS - STARTED)) "$*"; }
fail() { say "error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "must run as root"
if [ -e "$ETC/slurm.conf" ] && ! grep -qxF "$MARK" "$ETC/slurm.conf"; then
  fail "$ETC/slurm.conf belongs to another SLURM installation; not touching it"
fi
"$HERE/stop-slurm.sh" --quiet
mkdir -p "$RUN" "$LOG"

# ------------------------------------------------------------------ packages
"$HERE/install-slurm.sh" "$LOG/apt.log" || fail "installing the SLURM packages failed"

# ------------------------------------------------------------------ helpers
# Start a daemon in the foreground of a background shell: $! is the daemon's own PID.
launch() { # name command...
  local name=$1
  shift
  "$@" </dev/null >"$RUN/$name.out" 2>&1 &
  echo $! >"$RUN/$name.pid"
}
running() { # name
  local pid
  pid=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
  [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat")" != Z ]
}
await() { # name seconds command... : until the command succeeds, the daemon dies, or time is up
  local name=$1 limit=$(( SECONDS + $2 ))
  shift 2
  until "$@" >/dev/null 2>&1; do
    running "$name" || { tail -n 20 "$RUN/$name.out" >&2; fail "$name exited"; }
    [ $SECONDS -lt $limit ] || { tail -n 20 "$RUN/$name.out" >&2; fail "$name not ready"; }
    sleep 0.2
  done
}

# ------------------------------------------------------------------ munge
mkdir -p /run/munge
chown munge:munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
fi
if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "reusing the munged that already answers"
else
  # setpriv execs munged itself, so the recorded PID is munged's
  launch munged setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged --foreground
  await munged 15 bash -c 'munge -n </dev/null | unmunge'
  say "munged up"
fi

# ------------------------------------------------------------------ configuration
# A node drained by an earlier bad configuration stays drained in the saved state: start clean.
rm -rf "$STATE"
mkdir -p "$STATE/slurmctld" "$STATE/slurmd" "$STATE/slurmdbd" "$STATE/mysql" "$STATE/gpus" "$ETC"
HARDWARE=$(slurmd -C | head -n 1)
HARDWARE=${HARDWARE#NodeName=* }
CPUS=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$HARDWARE")
MEMORY=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$HARDWARE")

# slurmd 22.05 drops a GPU without File= and drains the node; fake GPUs are symlinks to a
# character device.
for i in $(seq 0 $((GPUS - 1))); do ln -s /dev/null "$STATE/gpus/gpu$i"; done
printf '%s\nAutoDetect=off\n' "$MARK" >"$ETC/gres.conf"
node_gres=""
if [ "$GPUS" -gt 0 ]; then
  echo "NodeName=$NODE Name=gpu Type=fake File=$STATE/gpus/gpu[0-$((GPUS - 1))]" >>"$ETC/gres.conf"
  node_gres="Gres=gpu:fake:$GPUS"
fi

cat >"$ETC/slurm.conf" <<EOF
$MARK
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/slurmctld/slurmctld.pid
SlurmdPidFile=$STATE/slurmd/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# without a default, a job that asks for no memory gets the whole node
DefMemPerCPU=$(( MEMORY / CPUS ))
MinJobAge=300
KillWait=5
InactiveLimit=0
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu,gres/gpu:fake
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 $HARDWARE $node_gres State=UNKNOWN
PartitionName=cpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODE MaxTime=INFINITE State=UP
EOF

# ------------------------------------------------------------------ accounting
mariadb-install-db --no-defaults --user=root --datadir="$STATE/mysql" \
  --auth-root-authentication-method=socket --skip-test-db >"$RUN/mariadb-install.out" 2>&1 ||
  { tail -n 20 "$RUN/mariadb-install.out" >&2; fail "mariadb-install-db failed"; }
SOCKET=$STATE/mysql/mysqld.sock
launch mariadbd /usr/sbin/mariadbd --no-defaults --user=root --datadir="$STATE/mysql" \
  --socket="$SOCKET" --pid-file="$STATE/mysql/mariadbd.pid" --port=$DB_PORT \
  --bind-address=127.0.0.1 --skip-name-resolve --log-error="$LOG/mariadb.log" \
  --innodb-buffer-pool-size=128M
await mariadbd 60 mariadb --no-defaults -S "$SOCKET" -uroot -e 'select 1'
DB_PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
mariadb --no-defaults -S "$SOCKET" -uroot <<SQL
CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
SQL
say "mariadbd up"
(
  umask 077
  cat >"$ETC/slurmdbd.conf" <<EOF
$MARK
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=root
LogFile=$LOG/slurmdbd.log
PidFile=$STATE/slurmdbd/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$DB_PASSWORD
StorageLoc=slurm_acct_db
EOF
)
launch slurmdbd /usr/sbin/slurmdbd -D
await slurmdbd 60 sacctmgr -n list cluster
sacctmgr -i add cluster "$CLUSTER" >/dev/null
sacctmgr -i add account "$ACCOUNT" >/dev/null
sacctmgr -i add user root account="$ACCOUNT" >/dev/null
say "slurmdbd up"

# ------------------------------------------------------------------ controller and node
launch slurmctld /usr/sbin/slurmctld -D
await slurmctld 30 bash -c 'scontrol ping | grep -q UP'
launch slurmd /usr/sbin/slurmd -D -N "$NODE"
idle() { [[ "$(sinfo -h -N -n "$NODE" -o %t | head -n 1)" =~ ^(idle|mix|alloc)$ ]]; }
await slurmd 30 idle
say "slurmctld and slurmd up: $(sinfo -h -N -n "$NODE" -o '%c CPUs, %m MB, %G' | head -n 1)"

# ------------------------------------------------------------------ smoke test
request=(-p cpu)
if [ "$GPUS" -gt 0 ]; then request=(-p gpu --gpus=fake:1); fi
job=$(sbatch --parsable -A "$ACCOUNT" "${request[@]}" -o /dev/null --wrap true)
finished() { sacct -X -n -P -j "$job" -o State | grep -qx COMPLETED; }
await slurmd 30 finished
say "ready: cluster $CLUSTER, partitions cpu (default) and gpu, account $ACCOUNT, $GPUS fake GPUs"
