#!/usr/bin/env bash
# Local Redis servers for the Redis test suite: one standalone server and a
# six-node cluster (three masters, three replicas), all on 127.0.0.1, with no
# persistence. Works from any directory and reads no environment variables.
#
#   scripts/redis.sh install                     install redis-server and redis-cli if missing
#   scripts/redis.sh standalone PORT DIR [SO]    start one server on PORT, files in DIR
#   scripts/redis.sh cluster BASEPORT DIR [SO]   start a cluster on BASEPORT..BASEPORT+5, files in DIR
#   scripts/redis.sh cluster-node PORT DIR [SO]  restart one node of the cluster in DIR, keeping its nodes.conf
#   scripts/redis.sh sentinel BASEPORT DIR       start a master on BASEPORT, its replica on BASEPORT+1 and
#                                                three Sentinels (quorum 2) on BASEPORT+20000..+20002
#   scripts/redis.sh stop DIR                    stop every server with a pidfile under DIR
#   scripts/redis.sh env PORT BASEPORT [SBASE]   print the export lines the Redis tests read
#
# SO, when given, is a Redis module every server of that command loads (the
# invite-limiter module: module/target/release/libinvite_limiter_module.so).
#
# Layout: the standalone server keeps DIR/redis-PORT.{pid,log}; cluster node
# PORT keeps DIR/node-PORT/{redis-PORT.pid,redis-PORT.log,nodes.conf}; the
# Sentinel topology of BASEPORT keeps DIR/sentinel-BASEPORT/redis-PORT.{pid,log}
# for its five processes and sentinel-PORT.conf for each Sentinel.
set -euo pipefail

readonly HOST=127.0.0.1
readonly NODES=6
readonly SLOTS=16384
# The Sentinel topology: the name its master is monitored under, and the offset
# of the Sentinels' ports from the master's.
readonly SERVICE=invite-limiter
readonly SENTINEL_OFFSET=20000

say() { echo "redis.sh: $*" >&2; }
die() {
  say "$*"
  exit 1
}

usage() {
  sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

# Validates a TCP port number given on the command line; prints it in decimal.
port_num() {
  [[ $1 =~ ^[0-9]{1,5}$ ]] && ((10#$1 > 0 && 10#$1 < 65536)) || die "not a port: '$1'"
  echo $((10#$1))
}

# Creates DIR if needed and prints its absolute path.
abs_dir() {
  [[ -n $1 ]] || die "empty directory argument"
  mkdir -p -- "$1"
  (cd -- "$1" && pwd -P)
}

# redis-cli against a local port, never hanging on a stopped server.
cli() {
  local port=$1
  shift
  timeout 3 redis-cli -h "$HOST" -p "$port" "$@" 2>/dev/null | tr -d '\r'
}

# Runs a command every 0.1 s until it succeeds; false after SECONDS seconds.
wait_for() {
  local seconds=$1
  shift
  local tries=$((seconds * 10))
  while ((tries-- > 0)); do
    "$@" && return 0
    sleep 0.1
  done
  "$@"
}

# A live process; a zombie counts as gone (some init processes never reap the
# daemonized servers, and kill -0 still succeeds on those).
pid_alive() {
  local state
  [[ -n $1 ]] && kill -0 "$1" 2>/dev/null || return 1
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $state != Z* ]]
}

pid_of() { [[ -s $1 ]] && tr -dc '0-9' <"$1" || true; }

# True when PID is a live redis-server serving PORT (guards against pid reuse).
is_our_server() {
  local pid=$1 port=$2
  local args
  pid_alive "$pid" && args=$(ps -o args= -p "$pid" 2>/dev/null) &&
    [[ $args =~ redis-server\ .*:$port([^0-9]|$) ]]
}

# True when something accepts TCP connections on PORT.
port_open() { timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$1" 2>/dev/null; }

# True when the server answering PORT is the process in PIDFILE.
answers_as() {
  local port=$1 pidfile=$2 pid
  pid=$(pid_of "$pidfile")
  [[ -n $pid ]] && [[ $(cli "$port" ping) == PONG ]] &&
    grep -qx "process_id:$pid" <<<"$(cli "$port" info server)"
}

# Ends a wait early: the server answers, or its process has already exited.
started_or_died() {
  local pid
  answers_as "$1" "$2" && return 0
  pid=$(pid_of "$2")
  [[ -n $pid ]] && ! pid_alive "$pid"
}

# Starts one daemonized redis-server on PORT with its files in DIR, then waits
# until it answers. Extra arguments go to redis-server.
start_server() {
  local port=$1 dir=$2
  shift 2
  local pidfile=$dir/redis-$port.pid logfile=$dir/redis-$port.log pid
  pid=$(pid_of "$pidfile")
  if is_our_server "$pid" "$port" && answers_as "$port" "$pidfile"; then
    return 0 # already running
  fi
  ! port_open "$port" || die "port $port is already in use (by $([[ $(cli "$port" ping) == PONG ]] && echo "another Redis" || echo "something else"))"
  rm -f -- "$pidfile"
  redis-server \
    --bind "$HOST" --port "$port" --daemonize yes \
    --save '' --appendonly no \
    --dir "$dir" --pidfile "$pidfile" --logfile "$logfile" \
    --enable-debug-command local \
    "$@" >/dev/null
  if ! wait_for 10 started_or_died "$port" "$pidfile" || ! answers_as "$port" "$pidfile"; then
    say "127.0.0.1:$port did not answer PONG (within 10 s); end of $logfile:"
    tail -n 20 -- "$logfile" >&2 || true
    exit 1
  fi
}

# Stops the server of one pidfile: SHUTDOWN NOSAVE NOW (no waiting for lagging
# replicas) if it answers, else signals; waits (bounded) until it is gone.
stop_one() {
  local pidfile=$1 port pid
  port=$(basename -- "$pidfile" .pid)
  port=${port#redis-}
  pid=$(pid_of "$pidfile")
  if [[ $port =~ ^[0-9]+$ ]] && is_our_server "$pid" "$port"; then
    # A server that does not answer (e.g. SIGSTOPped) goes straight to signals.
    if ! cli "$port" shutdown nosave now >/dev/null || ! wait_for 5 eval "! pid_alive $pid"; then
      kill -CONT "$pid" 2>/dev/null || true
      kill -TERM "$pid" 2>/dev/null || true
    fi
    wait_for 3 eval "! pid_alive $pid" || kill -KILL "$pid" 2>/dev/null || true
    wait_for 2 eval "! pid_alive $pid" || { say "pid $pid (port $port) would not exit"; return 1; }
  fi
  rm -f -- "$pidfile"
}

cmd_install() {
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    return 0
  fi
  local sudo=()
  if (($(id -u) != 0)); then
    command -v sudo >/dev/null || die "redis-server is missing and this is not root (no sudo either)"
    sudo=(sudo)
  fi
  # Retry once after refreshing the package lists, which may be stale or absent.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server redis-tools ||
    { "${sudo[@]}" apt-get update && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server redis-tools; }
}

# The redis-server arguments that load module SO, if one is given.
module_args() {
  (($# == 0)) && return 0
  [[ -f $1 ]] || die "no module file at '$1'"
  printf '%s\n' --loadmodule "$(cd -- "$(dirname -- "$1")" && pwd -P)/$(basename -- "$1")"
}

cmd_standalone() {
  (($# == 2 || $# == 3)) || usage
  local port dir extra
  port=$(port_num "$1")
  dir=$(abs_dir "$2")
  mapfile -t extra < <(module_args "${@:3}")
  start_server "$port" "$dir" "${extra[@]}"
  say "standalone 127.0.0.1:$port up (pid $(pid_of "$dir/redis-$port.pid"))${3:+ with $3}"
}

# Extra redis-server arguments of a cluster node. A short node timeout makes
# failover quick; a validity factor of 0 lets any replica take over; replicas
# sync at once (no 5 s diskless delay) and without writing an RDB file.
cluster_args=(
  --cluster-enabled yes --cluster-config-file nodes.conf
  --cluster-node-timeout 2000 --cluster-replica-validity-factor 0
  --repl-diskless-sync yes --repl-diskless-sync-delay 0 --repl-diskless-load on-empty-db
)

# True when every node sees the whole cluster healthy: state ok, all slots
# served, all six nodes known with their roles, every replica linked.
cluster_settled() {
  local base=$1 port info
  for ((port = base; port < base + NODES; port++)); do
    info=$(cli "$port" cluster info)
    grep -qx cluster_state:ok <<<"$info" || return 1
    grep -qx "cluster_slots_ok:$SLOTS" <<<"$info" || return 1
    grep -qx "cluster_known_nodes:$NODES" <<<"$info" || return 1
    # Roles spread by gossip: wait until this node sees three masters and three
    # replicas, none of them failing or still in handshake.
    info=$(cli "$port" cluster nodes)
    awk -v half=$((NODES / 2)) '
      $3 ~ /fail|handshake|noaddr/ { bad++ }
      $3 ~ /master/ { m++ }
      $3 ~ /slave/ { s++ }
      END { exit !(m == half && s == half && !bad) }' <<<"$info" || return 1
    info=$(cli "$port" info replication)
    if grep -qx role:slave <<<"$info"; then
      grep -qx master_link_status:up <<<"$info" || return 1
    fi
  done
}

cmd_cluster() {
  (($# == 2 || $# == 3)) || usage
  local base dir port started addrs=() extra
  base=$(port_num "$1")
  port_num $((base + NODES - 1)) >/dev/null
  dir=$(abs_dir "$2")
  mapfile -t extra < <(module_args "${@:3}")
  started=$(date +%s%N)
  # Fresh state every time: stop leftovers of these nodes and forget their
  # cluster configuration, so a rerun after stop (or a crash) starts clean.
  for ((port = base; port < base + NODES; port++)); do
    [[ ! -e $dir/node-$port/redis-$port.pid ]] || stop_one "$dir/node-$port/redis-$port.pid"
    rm -rf -- "${dir:?}/node-$port"
    mkdir -p -- "$dir/node-$port"
  done
  for ((port = base; port < base + NODES; port++)); do
    start_server "$port" "$dir/node-$port" "${cluster_args[@]}" "${extra[@]}"
    addrs+=("$HOST:$port")
  done
  if ! timeout 60 redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes \
    >"$dir/cluster-create-$base.log" 2>&1; then
    say "redis-cli --cluster create failed; end of $dir/cluster-create-$base.log:"
    tail -n 20 -- "$dir/cluster-create-$base.log" >&2 || true
    exit 1
  fi
  if ! wait_for 30 cluster_settled "$base"; then
    say "cluster $base-$((base + NODES - 1)) not settled within 30 s:"
    cli "$base" cluster info >&2 || true
    cli "$base" cluster nodes >&2 || true
    exit 1
  fi
  say "cluster 127.0.0.1:$base-$((base + NODES - 1)) ok in $(((($(date +%s%N) - started) / 1000000))) ms"
}

# True when node PORT sees the cluster ok and, if a replica, is linked to its master.
node_settled() {
  local info
  info=$(cli "$1" cluster info)
  grep -qx cluster_state:ok <<<"$info" || return 1
  info=$(cli "$1" info replication)
  ! grep -qx role:slave <<<"$info" || grep -qx master_link_status:up <<<"$info"
}

# Brings back one node of a running cluster (for instance after a test killed
# it), reusing its nodes.conf so it rejoins with its old identity.
cmd_cluster_node() {
  (($# == 2 || $# == 3)) || usage
  local port dir extra
  port=$(port_num "$1")
  dir=$(abs_dir "$2")
  [[ -s $dir/node-$port/nodes.conf ]] || die "no cluster node state in $dir/node-$port"
  mapfile -t extra < <(module_args "${@:3}")
  start_server "$port" "$dir/node-$port" "${cluster_args[@]}" "${extra[@]}"
  if ! wait_for 30 node_settled "$port"; then
    say "node 127.0.0.1:$port restarted but did not settle (cluster_state:ok, replica link up) within 30 s"
    exit 1
  fi
  say "cluster node 127.0.0.1:$port back (pid $(pid_of "$dir/node-$port/redis-$port.pid"))"
}

# True when the replica on PORT is linked to its master.
replica_linked() { grep -qx master_link_status:up <<<"$(cli "$1" info replication)"; }

# True when the Sentinel on PORT sees the master on MASTER up with one replica
# and the two other Sentinels.
sentinel_settled() {
  grep -q "name=$SERVICE,status=ok,address=$HOST:$2,slaves=1,sentinels=3" <<<"$(cli "$1" info sentinel)"
}

# Starts one Sentinel on PORT watching the master on MASTER, files in DIR. Its
# configuration is written fresh: Sentinels rewrite it with what they learn.
start_sentinel() {
  local port=$1 master=$2 dir=$3
  local conf=$dir/sentinel-$port.conf pidfile=$dir/redis-$port.pid
  ! port_open "$port" || die "port $port is already in use"
  printf '%s\n' "bind $HOST" "port $port" "daemonize yes" "dir $dir" \
    "pidfile $pidfile" "logfile $dir/redis-$port.log" \
    "sentinel monitor $SERVICE $HOST $master 2" \
    "sentinel down-after-milliseconds $SERVICE 1000" \
    "sentinel failover-timeout $SERVICE 2000" \
    "sentinel parallel-syncs $SERVICE 1" >"$conf"
  redis-server "$conf" --sentinel >/dev/null
  if ! wait_for 10 started_or_died "$port" "$pidfile" || ! answers_as "$port" "$pidfile"; then
    say "Sentinel 127.0.0.1:$port did not answer PONG (within 10 s); end of $dir/redis-$port.log:"
    tail -n 20 -- "$dir/redis-$port.log" >&2 || true
    exit 1
  fi
}

# Extra redis-server arguments of the Sentinel topology's servers: replicas sync
# at once and without writing an RDB file.
sentinel_args=(--repl-diskless-sync yes --repl-diskless-sync-delay 0 --repl-diskless-load on-empty-db)

cmd_sentinel() {
  (($# == 2)) || usage
  local base dir port
  base=$(port_num "$1")
  port_num $((base + SENTINEL_OFFSET + 2)) >/dev/null
  dir=$(abs_dir "$2")/sentinel-$base
  # Fresh state every time (a failover leaves the roles swapped).
  [[ ! -d $dir ]] || cmd_stop "$dir"
  rm -rf -- "$dir"
  mkdir -p -- "$dir"
  start_server "$base" "$dir" "${sentinel_args[@]}"
  start_server $((base + 1)) "$dir" "${sentinel_args[@]}" --replicaof "$HOST" "$base"
  wait_for 20 replica_linked $((base + 1)) || die "replica 127.0.0.1:$((base + 1)) did not link to its master within 20 s"
  for ((port = base + SENTINEL_OFFSET; port < base + SENTINEL_OFFSET + 3; port++)); do
    start_sentinel "$port" "$base" "$dir"
  done
  for ((port = base + SENTINEL_OFFSET; port < base + SENTINEL_OFFSET + 3; port++)); do
    if ! wait_for 30 sentinel_settled "$port" "$base"; then
      say "Sentinel 127.0.0.1:$port did not see the master, its replica and two Sentinels within 30 s:"
      cli "$port" info sentinel >&2 || true
      exit 1
    fi
  done
  say "sentinel: master 127.0.0.1:$base, replica :$((base + 1)), Sentinels :$((base + SENTINEL_OFFSET))-$((base + SENTINEL_OFFSET + 2)), service $SERVICE"
}

cmd_stop() {
  (($# == 1)) || usage
  [[ -d $1 ]] || return 0
  local dir pidfile status=0
  dir=$(cd -- "$1" && pwd -P)
  while IFS= read -r -d '' pidfile; do
    stop_one "$pidfile" || status=1
  done < <(find "$dir" -name 'redis-*.pid' -type f -print0)
  return "$status"
}

cmd_env() {
  (($# == 2 || $# == 3)) || usage
  local single base port urls=() sentinels=()
  single=$(port_num "$1")
  base=$(port_num "$2")
  if (($# == 3)); then
    port=$(port_num "$3")
    port_num $((port + SENTINEL_OFFSET + 2)) >/dev/null
    for ((port += SENTINEL_OFFSET; port < $3 + SENTINEL_OFFSET + 3; port++)); do
      sentinels+=("$HOST:$port")
    done
    echo "export INVITE_LIMITER_REDIS_SENTINEL=redis+sentinel://$(IFS=,; echo "${sentinels[*]}")/$SERVICE"
  fi
  port_num $((base + NODES - 1)) >/dev/null
  for ((port = base; port < base + NODES; port++)); do
    urls+=("redis://$HOST:$port/")
  done
  echo "export INVITE_LIMITER_REDIS_URL=redis://$HOST:$single/"
  echo "export INVITE_LIMITER_REDIS_CLUSTER=$(IFS=,; echo "${urls[*]}")"
}

(($# >= 1)) || usage
sub=$1
shift
case $sub in
  install) (($# == 0)) || usage; cmd_install ;;
  standalone) cmd_standalone "$@" ;;
  cluster) cmd_cluster "$@" ;;
  cluster-node) cmd_cluster_node "$@" ;;
  sentinel) cmd_sentinel "$@" ;;
  stop) cmd_stop "$@" ;;
  env) cmd_env "$@" ;;
  *) usage ;;
esac
