#!/bin/bash
# `make demo`: one Lockbox approval walked through on this machine, with no input. Runs as root,
# in a private mount namespace (its own /etc/pam.d copy and /dev/log), in a temporary directory;
# creates the users demo_eng and demo_admin and removes them, and everything else, at the end.
set -euo pipefail

BUILD=${1:?usage: packaging/demo.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd)
LOCKBOXD=$BUILD/lockboxd/lockboxd
LOCKBOXCTL=$BUILD/lockboxctl/lockboxctl
MODULE=$BUILD/pam_lockbox/pam_lockbox.so
ENG=demo_eng
ADMIN=demo_admin
TENANT=contoso
MARK="Lockbox demo user"   # the GECOS of the accounts this script creates

if [ "$(id -u)" -ne 0 ]; then
    echo "demo: run as root (it starts lockboxd, adds two users and uses su)" >&2
    exit 1
fi
for f in "$LOCKBOXD" "$LOCKBOXCTL" "$MODULE"; do
    [ -e "$f" ] || { echo "demo: not built: $f (run make build)" >&2; exit 1; }
done

# Everything below runs in a private mount namespace: the bind mounts vanish with it.
if [ "${LOCKBOX_DEMO_INSIDE:-}" != 1 ]; then
    exec env LOCKBOX_DEMO_INSIDE=1 unshare --mount --propagation private "$BASH" "$0" "$BUILD"
fi

TMP=$(mktemp -d /tmp/lockbox-demo.XXXXXX)
chmod 755 "$TMP"
SOCK=$TMP/run/lockboxd.sock
PAM_SOCK=$TMP/run/pam.sock    # the login socket: root only, the module's door
export LOCKBOX_SOCKET=$SOCK   # lockboxctl's socket, for root and (through runuser) the users
AUDIT=$TMP/log/audit.jsonl
SYSLOG=$TMP/syslog.txt
DAEMON_PID=""
LISTENER_PID=""
LOGIN_PID=""
CREATED_DEVLOG=0
USERS_ADDED=""

if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD="" PLAIN=""; fi
step() { printf '\n%s== %s%s\n' "$BOLD" "$*" "$PLAIN"; }
say() { printf '   %s\n' "$*"; }
# ctl_as USER ARGS: lockboxctl as USER, the command line shown first (LOCKBOX_SOCKET is set).
ctl_as() {
    local who=$1 shown="" arg; shift
    for arg in "$@"; do
        case $arg in *[[:space:]]*) shown+=" \"$arg\"" ;; *) shown+=" $arg" ;; esac
    done
    printf '   %s$ lockboxctl%s\n' "$who" "$shown"
    runuser -u "$who" -- "$LOCKBOXCTL" "$@" 2>&1 | sed -u 's/^/   /'
}

stop_pid() { # stop_pid PID: TERM, then KILL if it lingers
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    set +e
    [ -s "$TMP/su.pid" ] && stop_pid "$(cat "$TMP/su.pid")"
    stop_pid "$LOGIN_PID"
    stop_pid "$DAEMON_PID"
    stop_pid "$LISTENER_PID"
    for u in $USERS_ADDED; do userdel -r -f "$u" >/dev/null 2>&1; done
    umount /etc/pam.d /dev/log 2>/dev/null
    if [ "$CREATED_DEVLOG" = 1 ] && [ -f /dev/log ] && [ ! -s /dev/log ]; then rm -f /dev/log; fi
    rm -rf "$TMP"
    [ $rc -eq 0 ] || echo "demo: failed (exit $rc); cleaned up" >&2
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

add_user() { # add_user NAME: a fresh account; refuses to touch one this demo did not create
    if getent passwd "$1" >/dev/null; then
        if [ "$(getent passwd "$1" | cut -d: -f5)" != "$MARK" ]; then
            echo "demo: user $1 already exists and was not made by this demo; not touching it" >&2
            exit 1
        fi
        userdel -r -f "$1" >/dev/null 2>&1 || true
    fi
    useradd -m -s /bin/bash -c "$MARK" "$1"
    USERS_ADDED="$USERS_ADDED $1"
}

# The request id of the engineer's newest request in STATE, once there is one (up to 20 s).
request_id() {
    local state=$1 id=""
    for _ in $(seq 100); do
        id=$(runuser -u "$ADMIN" -- "$LOCKBOXCTL" --json list --state "$state" --user "$ENG" |
             python3 -c 'import json,sys; r=json.load(sys.stdin); print(r[0]["id"] if r else "")' \
             2>/dev/null) || id=""
        [ -n "$id" ] && { echo "$id"; return 0; }
        sleep 0.2
    done
    echo "demo: no $state request for $ENG appeared" >&2
    return 1
}

# The engineer's login: su from root runs su's account stack, where the module waits.
start_login() {
    rm -f "$TMP/login.rc"
    ( stdbuf -oL -eL su - "$ENG" -c 'echo "logged in as $(id -un) on $(hostname)"' 2>&1 &
      echo $! >"$TMP/su.pid"
      wait $! && echo 0 >"$TMP/login.rc" || echo $? >"$TMP/login.rc"
    ) | sed -u 's/^/   engineer| /' &
    LOGIN_PID=$!
}
finish_login() {
    wait "$LOGIN_PID" || true
    LOGIN_PID=""
    rm -f "$TMP/su.pid"
    say "(su exited with status $(cat "$TMP/login.rc"))"
}

step "0. Setting up in $TMP"
mkdir -m 755 "$TMP/run" "$TMP/lib" "$TMP/log"
cat >"$TMP/lockboxd.conf" <<EOF
[daemon]
socket = $SOCK
pam_socket = $PAM_SOCK
database = $TMP/lib/lockbox.db
audit_log = $AUDIT
tenant = $TENANT
request_ttl = 12h
access_ttl = 12h
max_pending_per_user = 20

[tenant $TENANT]
admins = $ADMIN
EOF
say "config: $TMP/lockboxd.conf (tenant $TENANT, admins = $ADMIN)"

# A /dev/log of our own: syslog(3) from lockboxd and from the module inside su lands here.
cat >"$TMP/listener.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as out:
    while True:
        out.write(s.recv(65536).decode("utf-8", "replace").rstrip("\n") + "\n")
        out.flush()
EOF
python3 "$TMP/listener.py" "$TMP/devlog" "$SYSLOG" &
LISTENER_PID=$!
for _ in $(seq 50); do [ -S "$TMP/devlog" ] && break; sleep 0.1; done
if [ ! -e /dev/log ]; then : >/dev/log; CREATED_DEVLOG=1; fi
mount --bind "$TMP/devlog" /dev/log

# su's PAM file, from a private copy of /etc/pam.d: the module after common-account.
cp -a /etc/pam.d "$TMP/pam.d"
awk -v line="account  required  $MODULE socket=$PAM_SOCK wait=60" \
    '{ print } /^@include common-account/ && !done { print line; done = 1 }' \
    /etc/pam.d/su >"$TMP/pam.d/su"
mount --bind "$TMP/pam.d" /etc/pam.d
say "su's account stack (private copy of /etc/pam.d/su):"
grep -E '^(@include common-account|account)' "$TMP/pam.d/su" | sed 's/^/     /'

add_user "$ENG"
add_user "$ADMIN"
say "users: $ENG (the engineer), $ADMIN (the $TENANT admin)"

"$LOCKBOXD" -c "$TMP/lockboxd.conf" -f >"$TMP/lockboxd.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 100); do "$LOCKBOXCTL" list >/dev/null 2>&1 && break; sleep 0.1; done
"$LOCKBOXCTL" list >/dev/null || { cat "$TMP/lockboxd.log" >&2; exit 1; }
say "lockboxd is running (pid $DAEMON_PID) on $SOCK"

step "1. The engineer logs in (su - $ENG): the login blocks until a $TENANT admin decides"
start_login
ID=$(request_id pending)
sleep 1
say "... still waiting: nothing runs for $ENG until the decision."

step "2. The admin lists the pending requests"
ctl_as "$ADMIN" list

step "3. The admin approves the request"
ctl_as "$ADMIN" approve "$ID" --comment "INC-4711: disk full" --for 1h

step "4. The waiting login passes at once"
finish_login

step "5. A second login passes without waiting (the approval lasts 1h)"
start_login
finish_login

step "6. The admin revokes the access; the next login waits again and is denied"
ctl_as "$ADMIN" revoke "$ID" --comment "work done"
start_login
ID2=$(request_id pending)
sleep 1
ctl_as "$ADMIN" deny "$ID2" --comment "file a new incident first"
finish_login

step "7. Syslog lines on /dev/log (authpriv; ident lockboxd and the module inside su)"
sleep 0.5
grep -E 'lockboxd|pam_lockbox' "$SYSLOG" | sed -E 's/^<[0-9]+>//; s/^/   /'

step "8. The audit trail, and its hash chain verified"
ctl_as root audit --file "$AUDIT"
ctl_as root audit verify --file "$AUDIT"

step "Done: stopping lockboxd (pid $DAEMON_PID), removing $ENG, $ADMIN and $TMP"
