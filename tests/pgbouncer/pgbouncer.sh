# Sourced by the pgbouncer tests: Debian's pgbouncer in transaction pooling
# mode, two server connections per database and user.
# start_pgbouncer WORK SOCKET_DIR PORT BOUNCER_PORT DATABASE USER: starts it,
# with its files in WORK, in front of DATABASE on the cluster at SOCKET_DIR
# and PORT, for USER (trusted), on 127.0.0.1:BOUNCER_PORT; stops it when the
# script exits; returns once it answers.
start_pgbouncer() {
    local work=$1 socket_dir=$2 port=$3 bouncer_port=$4 database=$5 user=$6
    cat >"$work/pgbouncer.ini" <<INI
[databases]
$database = host=$socket_dir port=$port dbname=$database
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = trust
auth_file = $work/users.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 100
query_wait_timeout = 30
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
INI
    echo "\"$user\" \"\"" >"$work/users.txt"
    chown postgres: "$work"/*
    runuser -u postgres -- pgbouncer -d "$work/pgbouncer.ini"
    # shellcheck disable=SC2064 # the path is fixed now
    trap "kill \"\$(cat '$work/pgbouncer.pid')\" 2>/dev/null || true" EXIT
    for _ in $(seq 50); do
        psql -X -h 127.0.0.1 -p "$bouncer_port" -U "$user" -d "$database" -Atc 'SELECT 1' >/dev/null 2>&1 && break
        sleep 0.1
    done
}
