#!/usr/bin/env bash
# tests/slurm/cluster.sh - a real, throwaway, single-node SLURM cluster for the
# test suite and CI, built from Debian's packages (slurm-wlm 22.05, munge,
# MariaDB for slurmdbd).
#
#   cluster.sh install            apt-get install what is missing (idempotent)
#   cluster.sh start STATE_DIR    write config, start all daemons, wait for the node
#   cluster.sh stop STATE_DIR     kill (by PID) exactly what `start` started
#   cluster.sh status [STATE_DIR] sinfo + squeue
#
# `start` prints on stdout, and writes to STATE_DIR/snakemake-args, the extra
# Snakemake arguments this cluster needs; everything else goes to stderr, so
#   ARGS=$(tests/slurm/cluster.sh start "$STATE")
# is safe. See README.md next to this file for the choices made and why.
#
# The machines this runs on have no systemd and no usable cgroups: nothing
# starts services or creates runtime folders for us, so this script does both.
set -euo pipefail

# ---------------------------------------------------------------- settings --
CLUSTER_NAME=localcluster
PARTITION=debug
# MariaDB for slurmdbd listens on 127.0.0.1 only, on a non-default port so it
# never collides with a MariaDB/MySQL the machine may run for something else.
DB_PORT=${SLURM_TEST_DB_PORT:-13306}
# The SLURM daemons use their standard ports (6817 slurmctld, 6818 slurmd,
# 6819 slurmdbd): the client tools find them through slurm.conf.
WAIT_SECONDS=${SLURM_TEST_WAIT_SECONDS:-60}   # bound on each readiness wait
# What a caller must add to `snakemake --executor slurm`: the first job-status
# check otherwise comes after 40 s, which makes a tiny test run take minutes.
SNAKEMAKE_ARGS="--slurm-init-seconds-before-status-checks 2"

PACKAGES=(munge slurm-client slurmctld slurmd slurmdbd mariadb-server)
# The daemons `start` runs, in start order (mysqld is MariaDB's server).
DAEMONS=(mysqld munged slurmdbd slurmctld slurmd)
# /etc/slurm/slurm.conf is where every SLURM client (sbatch, squeue, sacct,
# and srun inside jobs) looks by default; `start` points it at STATE_DIR.
SYSTEM_SLURM_CONF=/etc/slurm/slurm.conf

log() { echo "[cluster.sh] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() {
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# ----------------------------------------------------------------- helpers --

# Name the kernel shows for each daemon (/proc/PID/comm), used to make sure a
# recorded PID still belongs to that daemon before signalling it.
comm_of() {
    case $1 in
        mysqld) echo mariadbd ;;
        *) echo "$1" ;;
    esac
}

# Paths inside STATE_DIR (set by set_paths).
set_paths() {
    STATE=$(realpath -m "$1")
    ETC=$STATE/etc
    PIDS=$STATE/pids
    LOGS=$STATE/log
    RUN=$STATE/run
    SPOOL=$STATE/spool
    DBDIR=$STATE/mysql
    # A unix socket path must stay under 108 bytes; for a deep STATE_DIR put
    # MariaDB's socket under /run instead (one server per port anyway).
    DB_SOCKET=$RUN/mysqld.sock
    ((${#DB_SOCKET} < 100)) || DB_SOCKET=/run/cluster-sh-mysqld.$DB_PORT.sock
    export SLURM_CONF=$ETC/slurm.conf
}

# PID recorded for daemon $1, if that process is alive and is that daemon.
live_pid() {
    local f=$PIDS/$1.pid pid
    [[ -s $f ]] || return 1
    pid=$(tr -dc '0-9' <"$f")
    [[ -n $pid && -r /proc/$pid/comm ]] || return 1
    [[ $(cat "/proc/$pid/comm") == "$(comm_of "$1")" ]] || return 1
    echo "$pid"
}

# Poll "$@" every 0.5 s until it succeeds, for at most WAIT_SECONDS. Give up
# at once if a daemon this start launched has died meanwhile.
declare -A LAUNCHED=()   # daemon name -> PID, for everything this start launched
wait_for() {
    local what=$1 deadline=$((SECONDS + WAIT_SECONDS)) name
    shift
    until "$@" >/dev/null 2>&1; do
        for name in "${!LAUNCHED[@]}"; do
            [[ -d /proc/${LAUNCHED[$name]} ]] ||
                fail "$name (pid ${LAUNCHED[$name]}) died while waiting for $what"
        done
        ((SECONDS < deadline)) || fail "timed out after ${WAIT_SECONDS}s waiting for $what"
        sleep 0.5
    done
}

# Start failed: show the end of every daemon log, stop what was started, exit 1.
fail() {
    log "ERROR: $*"
    local f
    for f in "$LOGS"/*.log /var/log/munge/munged.log; do
        [[ -f $f ]] || continue
        # munged's log matters only if this start ran munged, or munge is broken.
        if [[ $f == /var/log/munge/* && ! -v LAUNCHED[munged] ]] && munge_works; then
            continue
        fi
        echo "----- tail of $f -----" >&2
        tail -n 25 "$f" >&2
    done
    log "stopping whatever this start had started"
    stop_daemons
    exit 1
}

# Run the start command ("${@:2}") of daemon $1, which daemonises itself, then
# wait until the daemon has written its PID file where slurm.conf tells it to.
launch() {
    local name=$1
    shift
    rm -f "$PIDS/$name.pid"
    "$@" || fail "could not start $name"
    wait_for "$name to write its PID file" live_pid "$name"
    LAUNCHED[$name]=$(live_pid "$name")
    log "started $name (pid ${LAUNCHED[$name]})"
}

# ----------------------------------------------------------------- install --
cmd_install() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        log "all packages already installed: ${PACKAGES[*]}"
        return 0
    fi
    log "installing: ${missing[*]}"
    # Keep the packages' maintainer scripts from starting any service: we start
    # each daemon ourselves, with our own config, and track its PID. Docker-like
    # images often have this policy file already; otherwise add it for the
    # duration of the install.
    local policy=/usr/sbin/policy-rc.d added_policy=
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        added_policy=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    if [[ -n $added_policy ]]; then rm -f "$policy"; trap - EXIT; fi
    log "installed: ${missing[*]}"
}

# ------------------------------------------------------------ write config --
write_config() {
    local host cpus mem_total real_mem def_mem
    host=$(hostname -s)
    cpus=$(nproc)
    mem_total=$(free -m | awk '/^Mem:/ {print $2}')
    # Slightly under the machine's memory: slurmd marks the node invalid if it
    # finds less memory than RealMemory claims.
    real_mem=$((mem_total * 95 / 100))
    # Without DefMemPerCPU a job that asks for no memory gets the whole node.
    def_mem=$((real_mem / cpus < 1024 ? real_mem / cpus : 1024))

    mkdir -p "$ETC" "$PIDS" "$LOGS" "$RUN" "$SPOOL/slurmctld" "$SPOOL/slurmd"

    cat >"$ETC/slurm.conf" <<EOF
# Written by tests/slurm/cluster.sh - single-node test cluster; do not edit.
ClusterName=$CLUSTER_NAME
SlurmctldHost=$host(127.0.0.1)
# All SLURM daemons run as root, so STATE_DIR may sit anywhere (e.g. under a
# root-only pytest tmp dir). Jobs run as the user who submits them.
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$SPOOL/slurmctld
SlurmdSpoolDir=$SPOOL/slurmd
SlurmctldPidFile=$PIDS/slurmctld.pid
SlurmdPidFile=$PIDS/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups here: track processes through /proc, bind no tasks.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
MpiDefault=none
# Cores and memory are the consumable resources, as on real clusters.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$def_mem
SchedulerType=sched/backfill
ReturnToService=2
KillWait=5
InactiveLimit=0
MailProg=/bin/true
# Job accounting through slurmdbd, so that sacct works: the Snakemake SLURM
# executor plugin checks job status with sacct whenever sacct is installed.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
JobCompType=jobcomp/none

NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

    # slurmdbd reads slurmdbd.conf from the folder of $SLURM_CONF; it must be
    # owned by SlurmUser and mode 600 (it holds the database password).
    DB_PASS=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    (
        umask 077
        cat >"$ETC/slurmdbd.conf" <<EOF
# Written by tests/slurm/cluster.sh - single-node test cluster; do not edit.
AuthType=auth/munge
DbdHost=$host
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
LogFile=$LOGS/slurmdbd.log
PidFile=$PIDS/slurmdbd.pid
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
    )

    # Point the default config path at this cluster, so that plain `sinfo`,
    # `sbatch` etc. work for the caller without SLURM_CONF. Only ever replace
    # a missing file or a symlink (one this script made before).
    mkdir -p "$(dirname "$SYSTEM_SLURM_CONF")"
    if [[ -e $SYSTEM_SLURM_CONF && ! -L $SYSTEM_SLURM_CONF ]]; then
        die "$SYSTEM_SLURM_CONF is a real file, not ours: refusing to replace it"
    fi
    ln -sfn "$ETC/slurm.conf" "$SYSTEM_SLURM_CONF"

    # The munge key is shared by munged and every SLURM daemon and client.
    if [[ ! -s /etc/munge/munge.key ]]; then
        log "creating /etc/munge/munge.key"
        install -d -o munge -g munge -m 700 /etc/munge
        (umask 077 && dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none)
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
}

# --------------------------------------------------------------- daemons --

# MariaDB, private to this STATE_DIR: own data dir, socket and port, no system
# my.cnf (--no-defaults). Runs as root for the same reason as the SLURM daemons.
MARIADB_OPTS=()
set_mariadb_opts() {
    MARIADB_OPTS=(--no-defaults --user=root --datadir="$DBDIR"
        --socket="$DB_SOCKET" --port="$DB_PORT" --bind-address=127.0.0.1
        --pid-file="$PIDS/mysqld.pid" --log-error="$LOGS/mysqld.log"
        --innodb-buffer-pool-size=64M --innodb-log-file-size=16M)
}

sql() { mariadb --no-defaults --socket="$DB_SOCKET" -u root -e "$1"; }

start_mysqld() {
    set_mariadb_opts
    if [[ ! -d $DBDIR/mysql ]]; then
        log "initialising MariaDB data dir $DBDIR"
        mariadb-install-db "${MARIADB_OPTS[@]}" --skip-test-db \
            >"$LOGS/mariadb-install-db.out" 2>&1 ||
            fail "mariadb-install-db failed (see $LOGS/mariadb-install-db.out)"
    fi
    # mariadbd does not daemonise: start it in the background, in a session of
    # its own (so a Ctrl-C or `timeout` aimed at the caller does not reach it)
    # and with no stdio tied to the caller. It writes its own PID file.
    rm -f "$PIDS/mysqld.pid"
    # (setsid execs mariadbd in place here, so $! is the server's PID.)
    setsid /usr/sbin/mariadbd "${MARIADB_OPTS[@]}" </dev/null >>"$LOGS/mysqld.log" 2>&1 &
    LAUNCHED[mysqld]=$!
    wait_for "MariaDB to write its PID file" live_pid mysqld
    log "started mysqld (pid $(live_pid mysqld))"
    wait_for "MariaDB to accept connections" \
        mariadb-admin --no-defaults --socket="$DB_SOCKET" -u root ping
    # Database and user for slurmdbd (password fresh on every start).
    sql "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
         CREATE OR REPLACE USER 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
         CREATE OR REPLACE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
         GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
         GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" ||
        fail "could not create the slurm database user"
}

munge_works() { munge -n </dev/null | unmunge >/dev/null; }

start_munged() {
    # munged is machine-wide (clients use the fixed socket /run/munge). If one
    # already answers, use it and leave it alone: `stop` kills only our own.
    if munge_works 2>/dev/null; then
        log "munged already running; using it"
        return 0
    fi
    # munged runs as user munge and keeps its files in the standard places
    # (the package creates all but the runtime folder /run/munge).
    install -d -o munge -g munge -m 755 /run/munge
    # munged daemonises and writes /run/munge/munged.pid; copy that PID.
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged </dev/null >&2 ||
        fail "could not start munged"
    wait_for "munged to write its PID file" test -s /run/munge/munged.pid
    cp /run/munge/munged.pid "$PIDS/munged.pid"
    LAUNCHED[munged]=$(live_pid munged) || fail "munged exited right after starting"
    log "started munged (pid ${LAUNCHED[munged]})"
    wait_for "munge to work" munge_works
}

cluster_registered() {
    sacctmgr -n -P show cluster format=cluster 2>/dev/null | grep -qx "$CLUSTER_NAME"
}

node_idle() {
    [[ $(sinfo -h -N -n "$(hostname -s)" -o %T 2>/dev/null) == idle ]]
}

# Daemons of this kind running on the machine that are not ours.
foreign_daemons() {
    local name pid ours
    for name in slurmctld slurmd slurmdbd; do
        ours=$(live_pid "$name" || true)
        for pid in $(pgrep -x "$name" || true); do
            [[ $pid == "$ours" ]] || echo "$name($pid)"
        done
    done
}

# --------------------------------------------------------------- start/stop --
cmd_start() {
    [[ $EUID -eq 0 ]] || die "must run as root (it starts system daemons)"
    local name running=() stopped=()
    mkdir -p "$PIDS"
    for name in "${DAEMONS[@]}"; do
        [[ $name == munged && ! -e $PIDS/munged.pid ]] && continue  # shared munged
        if live_pid "$name" >/dev/null; then running+=("$name"); else stopped+=("$name"); fi
    done
    if ((${#running[@]} > 0 && ${#stopped[@]} == 0)) && sinfo -h >/dev/null 2>&1; then
        log "cluster from $STATE is already running"
        echo "$SNAKEMAKE_ARGS" | tee "$STATE/snakemake-args"
        return 0
    fi
    if ((${#running[@]} > 0)); then
        log "cluster in $STATE is half up (running: ${running[*]}); restarting it"
        stop_daemons
    fi
    local foreign
    foreign=$(foreign_daemons | tr '\n' ' ')
    [[ -z $foreign ]] || die "other SLURM daemons are running: $foreign; stop them first"

    local t0=$SECONDS
    write_config
    start_mysqld
    start_munged
    launch slurmdbd slurmdbd
    wait_for "slurmdbd to answer" sacctmgr -n show cluster
    launch slurmctld slurmctld
    # slurmctld registers the cluster with slurmdbd on its own; sacct (which the
    # Snakemake plugin calls with --clusters all) needs that registration.
    wait_for "slurmctld to register cluster $CLUSTER_NAME" cluster_registered
    launch slurmd slurmd
    wait_for "node $(hostname -s) to be idle in sinfo" node_idle
    log "cluster up in $((SECONDS - t0))s (state in $STATE)"
    sinfo >&2
    echo "$SNAKEMAKE_ARGS" | tee "$STATE/snakemake-args"
}

any_alive() {
    local pid
    for pid in "$@"; do [[ -d /proc/$pid ]] && return 0; done
    return 1
}

# Stop daemons "$@" by their recorded PIDs, together: SIGTERM, then SIGKILL
# for any still alive after 20 s.
stop_group() {
    local name pid pids=() i
    for name in "$@"; do
        if pid=$(live_pid "$name"); then
            log "stopping $name (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    for ((i = 0; i < 100; i++)); do
        any_alive "${pids[@]}" || break
        sleep 0.2
    done
    for pid in "${pids[@]}"; do
        if [[ -d /proc/$pid ]]; then
            log "pid $pid ignored SIGTERM for 20s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    for name in "$@"; do rm -f "$PIDS/$name.pid"; done
}

stop_daemons() {
    local i
    # Cancel leftover jobs first, so no slurmstepd outlives slurmd.
    if live_pid slurmctld >/dev/null; then
        local jobs=()
        mapfile -t jobs < <(timeout 10 squeue -h -o %A 2>/dev/null || true)
        if ((${#jobs[@]} > 0)); then
            log "cancelling jobs: ${jobs[*]}"
            timeout 10 scancel "${jobs[@]}" 2>/dev/null || true
            for ((i = 0; i < 20; i++)); do
                [[ -z $(timeout 10 squeue -h -o %A 2>/dev/null || true) ]] && break
                sleep 0.5
            done
        fi
    fi
    # Reverse start order, in three steps: slurmctld sends its last records to
    # slurmdbd, and slurmdbd writes them to MariaDB, before those go away.
    stop_group slurmd slurmctld
    stop_group slurmdbd
    stop_group munged mysqld
    # Drop the default-config link if it points at this cluster.
    if [[ -L $SYSTEM_SLURM_CONF && $(readlink "$SYSTEM_SLURM_CONF") == "$ETC/slurm.conf" ]]; then
        rm -f "$SYSTEM_SLURM_CONF"
    fi
    if pgrep -x slurmstepd >/dev/null; then
        log "WARNING: slurmstepd processes remain: $(pgrep -x slurmstepd | tr '\n' ' ')"
    fi
}

cmd_stop() {
    [[ -d $STATE ]] || { log "no state dir $STATE; nothing to stop"; return 0; }
    stop_daemons
    log "stopped cluster in $STATE"
}

cmd_status() {
    if ! sinfo; then
        log "no cluster answering (is it started?)"
        return 1
    fi
    squeue
}

# -------------------------------------------------------------------- main --
case ${1:-} in
    install) cmd_install ;;
    start | stop)
        [[ $# -eq 2 ]] || usage
        set_paths "$2"
        "cmd_$1"
        ;;
    status)
        if [[ $# -ge 2 ]]; then set_paths "$2"; fi
        cmd_status
        ;;
    *) usage ;;
esac
