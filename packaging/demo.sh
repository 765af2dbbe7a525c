#!/bin/bash
# `make demo`: the README's story on this machine in under a minute, with no input. A private
# lockboxd and a private sshd on 127.0.0.1, with the PAM and sshd lines shipped in packaging/;
# an engineer's ssh login blocked and then approved, filing ahead with request/wait, a denial,
# a live session ended by revoke, and the audit trail verified. Every scene checks what it
# shows: exit 0 only if all of them behaved as the README says.
#
# Runs as root in its own mount namespace: /etc/pam.d, /dev (for /dev/log) and the login
# records are private copies there, so nothing machine-wide is changed and tests running beside
# it are not disturbed. It creates the accounts lbxdemo_eng and lbxdemo_adm and removes them,
# its processes (stopped by PID) and its temporary directory at the end, also on failure or ^C.
# Exit status: 0 every scene as expected; 1 a scene failed (the reason is printed); 77 this
# build cannot run it (sanitizer build: the module cannot be loaded into the stock sshd).
# shellcheck disable=SC2016  # $(...) in the engineer's ssh commands is for the remote shell
set -euo pipefail

usage() { echo "usage: packaging/demo.sh BUILD_DIR" >&2; exit 2; }
[ $# -eq 1 ] || usage
BUILD=$(cd "$1" && pwd) || usage
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCKBOXD=$BUILD/lockboxd/lockboxd
LOCKBOXCTL=$BUILD/lockboxctl/lockboxctl
MODULE=$BUILD/pam_lockbox/pam_lockbox.so
SHIPPED_PAM=$REPO/packaging/pam.d/sshd
SHIPPED_SSHD=$REPO/packaging/sshd_config.d/lockbox.conf
ENG=lbxdemo_eng
ADMIN=lbxdemo_adm
TENANT=contoso
MARK="Lockbox demo user"   # the GECOS of the accounts this script creates
WAIT=8                     # the demo's wait= (the shipped 90 s would make a long demo)

preflight() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "demo: run as root (it starts lockboxd and sshd and adds two users)" >&2
        exit 1
    fi
    if grep -q '^LOCKBOX_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
        echo "demo: skipped: $BUILD is a sanitizer build; its pam_lockbox.so cannot be" \
             "loaded into the stock sshd (run it with the plain build)" >&2
        exit 77
    fi
    local f
    for f in "$LOCKBOXD" "$LOCKBOXCTL" "$MODULE"; do
        [ -e "$f" ] || { echo "demo: not built: $f (run make build)" >&2; exit 1; }
    done
    for f in /usr/sbin/sshd ssh ssh-keygen script unshare python3 useradd; do
        command -v "$f" >/dev/null ||
            { echo "demo: $f is missing (run make deps)" >&2; exit 1; }
    done
}
preflight

# Everything below runs in a private mount namespace: its mounts vanish with it.
if [ "${LOCKBOX_DEMO_INSIDE:-}" != 1 ]; then
    exec env LOCKBOX_DEMO_INSIDE=1 unshare --mount --propagation private "$BASH" "$0" "$BUILD"
fi

STARTED=$EPOCHREALTIME
TMP=$(mktemp -d /tmp/lockbox-demo.XXXXXX)
chmod 755 "$TMP"                       # the users' lockboxctl reaches the socket through it
SOCK=$TMP/run/lockboxd.sock            # the HTTP API, for lockboxctl
PAM_SOCK=$TMP/run/pam.sock             # the login socket: root only, the module's door
export LOCKBOX_SOCKET=$SOCK            # lockboxctl's socket (runuser keeps it)
AUDIT=$TMP/log/audit.jsonl
SYSLOG=$TMP/syslog.txt
KEY=$TMP/engineer_ed25519
HOLD_FIFO=$TMP/session-stdin
SCENE="setting up"
PIDS=()                                # everything started here, stopped by PID at the end
USERS_ADDED=()
MOUNTS=()                              # unmounted in reverse order
SSHD_PID=""
PORT=""
HOST=""

if [ -t 1 ]; then BOLD=$'\033[1m' DIM=$'\033[2m' PLAIN=$'\033[0m'; else BOLD="" DIM="" PLAIN=""; fi
scene() { # scene N TITLE...
    local n=$1; shift
    SCENE="$n. $*"
    printf '\n%s== %s. %s%s\n' "$BOLD" "$n" "$*" "$PLAIN"
}
say() { printf '   %s\n' "$*"; }
note() { printf '   %s%s%s\n' "$DIM" "$*" "$PLAIN"; }
indent() { sed -u "s/^/   ${1:-}/"; }
fail() { printf '\ndemo: FAILED in scene "%s": %s\n' "$SCENE" "$*" >&2; exit 1; }

# ---------------------------------------------------------------- clean-up

is_child_of() { [ -n "$1" ] && [ "$(ps -o ppid= -p "$1" | tr -d ' ')" = "$2" ]; }

# stop_pid PID [PARENT]: TERM, then KILL if it lingers. With PARENT, only while PID is still
# PARENT's child: a PID that ended long ago may since belong to someone else's process.
stop_pid() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 0
    [ -z "${2:-}" ] || is_child_of "$1" "$2" || return 0
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
}

# sshd's per-connection children outlive the listener; they are this demo's too.
stop_sshd() {
    local child
    is_child_of "$SSHD_PID" $$ || return 0
    for child in $(ps -o pid= --ppid "$SSHD_PID"); do stop_pid "$child" "$SSHD_PID"; done
    stop_pid "$SSHD_PID" $$
}

# Processes of the demo's own accounts (revoke should have left none).
stop_user_processes() {
    local user pid
    for user in "${USERS_ADDED[@]}"; do
        for pid in $(ps -o pid= -u "$user" 2>/dev/null); do stop_pid "$pid"; done
    done
}

cleanup() {
    local rc=$? i
    set +e
    { exec 7>&-; } 2>/dev/null   # the session's stdin (scene 5)
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        if [ "${PIDS[i]}" = "$SSHD_PID" ]; then stop_sshd; else stop_pid "${PIDS[i]}" $$; fi
    done
    stop_user_processes
    for i in "${USERS_ADDED[@]}"; do userdel -r -f "$i" >/dev/null 2>&1; done
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount -R "${MOUNTS[i]}" 2>/dev/null || umount -R -l "${MOUNTS[i]}"
    done
    if [ $rc -eq 1 ] && [ -s "$TMP/lockboxd.log" ]; then
        echo "--- the last lines of lockboxd's log:" >&2; tail -n 15 "$TMP/lockboxd.log" >&2
    fi
    if [ $rc -eq 1 ] && [ -s "$TMP/sshd/sshd.log" ]; then
        echo "--- the last lines of sshd's log:" >&2; tail -n 15 "$TMP/sshd/sshd.log" >&2
    fi
    rm -rf --one-file-system "$TMP"
    [ $rc -eq 0 ] || echo "demo: exit $rc; every process, account and file it made is gone" >&2
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers

# as WHO ARGS: lockboxctl as WHO, the command shown first with WHO's prompt; returns its status.
as() {
    local who=$1 prompt shown="" arg rc=0; shift
    for arg in "$@"; do
        case $arg in *[[:space:]]*) shown+=" \"$arg\"" ;; *) shown+=" $arg" ;; esac
    done
    case $who in
        "$ENG") prompt="engineer$" ;;
        "$ADMIN") prompt="admin$" ;;
        *) prompt="root#" ;;
    esac
    printf '   %s%s lockboxctl%s%s%s\n' "$BOLD" "$prompt" "$shown" "$PLAIN" "${AS_NOTE:-}"
    runuser -u "$who" -- "$LOCKBOXCTL" "$@" >"$TMP/out" 2>&1 || rc=$?
    if [ -n "${AS_FROM:-}" ]; then sed -n "/$AS_FROM/,\$p" "$TMP/out"; else cat "$TMP/out"; fi |
        ${AS_FILTER:-cat} | indent
    return $rc
}

contains() { grep -qF -- "$2" "$1"; }
must_contain() { contains "$1" "$2" || fail "expected \"$2\" in: $(cat "$1")"; }

# until SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds; fails after SECONDS.
until_true() {
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        [ $SECONDS -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# health FIELD: one field of lockboxd's GET /v1/health (fails while lockboxd does not answer).
health() {
    python3 - "$SOCK" "$1" <<'EOF'
import http.client, json, socket, sys
conn = http.client.HTTPConnection("lockboxd", timeout=2)
conn.sock = socket.socket(socket.AF_UNIX)
conn.sock.settimeout(2)
conn.sock.connect(sys.argv[1])
conn.request("GET", "/v1/health")
print(json.loads(conn.getresponse().read())[sys.argv[2]])
EOF
}
# How many logins and `lockboxctl wait`s lockboxd holds right now.
waiting_count() { health waiting; }
somebody_waits() { [ "$(waiting_count 2>/dev/null || echo 0)" -ge 1 ]; }

show_ssh() { # show_ssh [OPTION] COMMAND: the engineer's ssh command line as the demo shows it
    local option=""
    [ $# -lt 2 ] || { option="$1 "; shift; }
    printf '   %sengineer$ ssh %s-p %s %s@127.0.0.1 %s%s\n' "$BOLD" "$option" "$PORT" "$ENG" "$*" \
        "$PLAIN"
}
# The engineer's ssh client: the demo's key, the private sshd's host key, nothing else.
SSH_OPTS=()
ssh_argv_init() {
    SSH_OPTS=(ssh -F /dev/null -p "$PORT" -i "$KEY" -o IdentitiesOnly=yes
              -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$TMP/known_hosts"
              -o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=10 -o BatchMode=yes)
}

# A terminal's transcript as lines: "\r ESC[K" (a status line being redrawn) starts a new line;
# other escape sequences (colours, window titles, bracketed paste) and the machine's motd,
# which pam_motd shows at login, are left out.
terminal_lines() {
    sed -E -e 's/\r\x1b\[K/\n/g' -e 's/\x1b\][^\x07]*\x07//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' \
        -e 's/[\r\x07]//g' "$1" |
        grep -vxF -f <(cat /etc/motd /run/motd.dynamic 2>/dev/null; uname -snrvm) |
        grep -v '^[[:space:]]*$' || true
}

# ---------------------------------------------------------------- setting up

# A private /dev: an overlay over the real one (devices, pts and shm bound through), where
# /dev/log is our listener's socket. The machine's /dev/log is never created or removed.
private_dev_log() {
    mkdir "$TMP/devfs" "$TMP/dev"
    mount -t tmpfs -o mode=755 lbxdemo-devfs "$TMP/devfs" && MOUNTS+=("$TMP/devfs")
    mkdir "$TMP/devfs/upper" "$TMP/devfs/work"
    mount -t overlay -o "lowerdir=/dev,upperdir=$TMP/devfs/upper,workdir=$TMP/devfs/work" \
        lbxdemo-dev "$TMP/dev" || fail "cannot mount an overlay over /dev"
    local sub
    for sub in /dev/*; do
        if [ -d "$sub" ] && [ ! -L "$sub" ] && mountpoint -q "$sub"; then
            mount --rbind "$sub" "$TMP/dev/${sub#/dev/}"
        fi
    done
    rm -f "$TMP/dev/log" && : >"$TMP/dev/log"
    mount --move "$TMP/dev" /dev && MOUNTS+=(/dev)
    python3 - "$TMP/devlog" "$SYSLOG" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as out:
    while True:
        out.write(s.recv(65536).decode("utf-8", "replace").rstrip("\n") + "\n")
        out.flush()
EOF
    PIDS+=($!)
    until_true 5 test -S "$TMP/devlog" || fail "the syslog listener did not start"
    chmod 666 "$TMP/devlog"
    mount --bind "$TMP/devlog" /dev/log
}

# sshd records logins in utmp/wtmp/btmp/lastlog: give it private copies of the machine's.
private_login_records() {
    local f
    mkdir "$TMP/records"
    for f in /var/log/wtmp /var/log/btmp /var/log/lastlog /run/utmp /var/run/utmp; do
        if [ ! -f "$f" ] || [ -L "$f" ]; then continue; fi
        : >"$TMP/records/${f//\//_}"
        mount --bind "$TMP/records/${f//\//_}" "$f" && MOUNTS+=("$f")
    done
}

add_user() { # add_user NAME: a fresh account; refuses to touch one this demo did not create
    if getent passwd "$1" >/dev/null; then
        [ "$(getent passwd "$1" | cut -d: -f5)" = "$MARK" ] ||
            fail "user $1 exists and was not made by this demo; not touching it"
        no_process_of "$1" || fail "user $1 has processes: is another demo running?"
        userdel -r -f "$1" >/dev/null 2>&1 || true   # left by a demo that was killed
    fi
    useradd -m -U -s /bin/bash -c "$MARK" "$1"
    USERS_ADDED+=("$1")
}

start_lockboxd() {
    mkdir -m 755 "$TMP/run" "$TMP/lib" "$TMP/log"
    cat >"$TMP/lockboxd.conf" <<EOF
# The demo's lockboxd: the shipped defaults, its own paths, one tenant.
[daemon]
socket = $SOCK
pam_socket = $PAM_SOCK
database = $TMP/lib/lockbox.db
audit_log = $AUDIT
tenant = $TENANT

[tenant $TENANT]
admins = $ADMIN
EOF
    "$LOCKBOXD" -c "$TMP/lockboxd.conf" -f >"$TMP/lockboxd.log" 2>&1 &
    PIDS+=($!)
    local pid=$!
    until_true 10 health status >/dev/null 2>&1 || fail "lockboxd did not start"
    HOST=$(health host)
    say "lockboxd (pid $pid): $TMP/lockboxd.conf, tenant $TENANT, admins = $ADMIN, host $HOST"
}

# Debian's /etc/pam.d/sshd with the module's lines of packaging/pam.d/sshd placed where each
# says ('# After "@include common-account":'), as an administrator following it would: every
# line that is on, and the optional session line switched on. The module is named by its build
# path, pointed at the demo's login socket and given the demo's wait=.
shipped_sshd_stack() {
    python3 - "$SHIPPED_PAM" /etc/pam.d/sshd "$MODULE socket=$PAM_SOCK" "$WAIT" <<'EOF'
import re, sys
shipped, stock, module, wait = sys.argv[1:5]
text = open(stock).read().splitlines(True)
where = None
for raw in open(shipped):
    placement = re.match(r'^# (After|Before) "([^"]+)":\s*$', raw)
    if placement:
        where = placement.groups()
        continue
    directive = re.match(r"^(#?)(auth|account|session|password)\s", raw)
    if not directive:
        continue
    if where is None:
        sys.exit("%s: %r does not say where it goes" % (shipped, raw.strip()))
    commented, stack = directive.group(1) == "#", directive.group(2)
    if commented and stack != "session":
        where = None
        continue
    line = raw[1:] if commented else raw
    line = line.replace("pam_lockbox.so", module)
    if stack in ("auth", "account"):
        line = re.sub(r"wait=\d+", "wait=" + wait, line)
    at = [i for i, old in enumerate(text) if old.strip() == where[1]]
    if len(at) != 1:
        sys.exit("%s: %r found %d times" % (stock, where[1], len(at)))
    text.insert(at[0] + (1 if where[0] == "After" else 0), line)
    where = None
sys.stdout.write("".join(text))
EOF
}

# sshd's stack in a private copy of /etc/pam.d, bound over the real one (this namespace only).
private_pam_d() {
    cp -a /etc/pam.d "$TMP/pam.d"
    shipped_sshd_stack >"$TMP/pam.d/sshd" || fail "cannot place the shipped lines in sshd's stack"
    grep -qE "^account.*pam_lockbox.*wait=$WAIT" "$TMP/pam.d/sshd" ||
        fail "no 'account required pam_lockbox.so wait=N' line in $SHIPPED_PAM"
    awk '/pam_loginuid/ { l = NR } /^session.*pam_lockbox/ { s = NR } END { exit !(l && s > l) }' \
        "$TMP/pam.d/sshd" || fail "no session line after pam_loginuid in the shipped stack"
    mount --bind "$TMP/pam.d" /etc/pam.d && MOUNTS+=(/etc/pam.d)
    say "sshd's PAM stack: Debian's /etc/pam.d/sshd plus the lines of packaging/pam.d/sshd"
    say "where they say (the optional session line on, wait=$WAIT), in a private /etc/pam.d:"
    grep -nE '^@include common-(auth|account|session)|pam_loginuid|pam_lockbox' \
        "$TMP/pam.d/sshd" | sed -E "s# socket=$PAM_SOCK##; s#$MODULE#pam_lockbox.so#" | indent "  "
    note "(pam_lockbox.so stands for $MODULE socket=$PAM_SOCK)"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

write_sshd_config() {
    cat >"$TMP/sshd/sshd_config" <<EOF
# The demo's sshd: the shipped snippet, then a private listener and host key.
Include $SHIPPED_SSHD
Port $PORT
ListenAddress 127.0.0.1
HostKey $TMP/sshd/host_ed25519
PidFile $TMP/sshd/sshd.pid
AllowUsers $ENG
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
PrintMotd no
PrintLastLog no
LogLevel VERBOSE
EOF
}

# A private sshd on 127.0.0.1 (a free port; tried again if another process took it meanwhile).
start_sshd() {
    mkdir -m 755 "$TMP/sshd"
    ssh-keygen -q -t ed25519 -N "" -C lbxdemo-host -f "$TMP/sshd/host_ed25519"
    [ -d /run/sshd ] || mkdir -m 755 /run/sshd   # sshd's privilege-separation directory
    local attempt
    for attempt in 1 2 3; do
        PORT=$(free_port)
        write_sshd_config
        /usr/sbin/sshd -t -f "$TMP/sshd/sshd_config" || fail "sshd -t refused the config"
        /usr/sbin/sshd -D -e -f "$TMP/sshd/sshd_config" >>"$TMP/sshd/sshd.log" 2>&1 </dev/null &
        SSHD_PID=$!
        PIDS+=("$SSHD_PID")
        until_true 10 sh -c "grep -q 'Server listening' '$TMP/sshd/sshd.log' ||
                             ! kill -0 $SSHD_PID 2>/dev/null" || fail "sshd did not start"
        kill -0 "$SSHD_PID" 2>/dev/null && break
        [ "$attempt" -lt 3 ] || fail "sshd would not start: $(tail -n 3 "$TMP/sshd/sshd.log")"
    done
    printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$TMP/sshd/host_ed25519.pub")" \
        >"$TMP/known_hosts"
    ssh_argv_init
    say "sshd (pid $SSHD_PID) on 127.0.0.1:$PORT, with packaging/sshd_config.d/lockbox.conf"
}

authorize_engineer_key() {
    ssh-keygen -q -t ed25519 -N "" -C lbxdemo-engineer -f "$KEY"
    local home
    home=$(getent passwd "$ENG" | cut -d: -f6)
    install -d -m 700 -o "$ENG" -g "$ENG" "$home/.ssh"
    install -m 600 -o "$ENG" -g "$ENG" "$KEY.pub" "$home/.ssh/authorized_keys"
}

# ---------------------------------------------------------------- the scenes

scene_setup() {
    scene 0 "Setting up in $TMP (a private mount namespace)"
    private_dev_log
    private_login_records
    add_user "$ENG"
    add_user "$ADMIN"
    say "users: $ENG (the provider's engineer), $ADMIN (a $TENANT admin); prompts below:"
    say "\"engineer\$\" and \"admin\$\" run as them, \"root#\" is the host's operator"
    start_lockboxd
    private_pam_d
    authorize_engineer_key
    start_sshd
}

# Runs the engineer's ssh in the background; its stdout/stderr land in $TMP/ssh.NAME.{out,err}.
ssh_in_background() { # ssh_in_background NAME ARGS...
    local name=$1; shift
    "${SSH_OPTS[@]}" "$ENG@127.0.0.1" "$@" >"$TMP/ssh.$name.out" 2>"$TMP/ssh.$name.err" &
    SSH_BG_PID=$!
    PIDS+=("$SSH_BG_PID")
}
# wait_status PID SECONDS WHAT: waits for a child of this shell, at most SECONDS; its exit
# status lands in STATUS. (bash reaps finished children at once, so kill -0 fails for them.)
wait_status() {
    until_true "$2" not_running "$1" || fail "$3 still runs after $2 s"
    STATUS=0
    wait "$1" || STATUS=$?
}
not_running() { ! kill -0 "$1" 2>/dev/null; }
show_ssh_output() { # show_ssh_output NAME: what the engineer's terminal showed
    cat "$TMP/ssh.$1.err" "$TMP/ssh.$1.out" | indent "| "
}

scene_blocked_login() {
    scene 1 "The engineer logs in over ssh before anyone approved: the login waits"
    note "The key is accepted, then sshd's account stack runs pam_lockbox: it files a request"
    note "(\"login via sshd from 127.0.0.1\") and holds the login for up to wait=$WAIT s."
    show_ssh "'echo hello from \$(hostname)'"
    note "(sshd passes the module's lines on only once it returns: until then the screen is blank)"
    local start=$SECONDS rc
    ssh_in_background first 'echo hello from $(hostname)'
    wait_status "$SSH_BG_PID" $((WAIT + 10)) "the undecided login"; rc=$STATUS
    show_ssh_output first
    say "(ssh exited with status $rc after $((SECONDS - start)) s; nothing ran on the host)"
    [ "$rc" = 255 ] || fail "the undecided login was not refused (ssh exit $rc)"
    must_contain "$TMP/ssh.first.err" "is still pending"
    if contains "$TMP/ssh.first.out" "hello from"; then fail "a command ran without approval"; fi
    [ $((SECONDS - start)) -ge $((WAIT - 1)) ] || fail "the login did not wait for a decision"
    LOGIN_ID=$(grep -oE 'request [0-9a-f]{32}' "$TMP/ssh.first.err" | head -n1 | cut -d' ' -f2)
    [ -n "$LOGIN_ID" ] || fail "the refusal did not name the request"
}

scene_admin_looks() {
    scene 2 "The $TENANT admin sees the request: list and show"
    as "$ADMIN" list || fail "list failed"
    must_contain "$TMP/out" "${LOGIN_ID:0:8}"
    as "$ADMIN" show "${LOGIN_ID:0:8}" || fail "show failed"
    must_contain "$TMP/out" "login via sshd from 127.0.0.1"
}

scene_approved_login() {
    scene 3 "The engineer tries again; the admin approves while the login waits"
    show_ssh "'echo logged in as \$(id -un) on \$(hostname)'"
    ssh_in_background second 'echo logged in as $(id -un) on $(hostname)'
    until_true 10 somebody_waits || fail "the second login never reached lockboxd"
    note "... the login is blocked (lockboxd holds $(waiting_count) waiting login)." \
         "The admin decides:"
    as "$ADMIN" approve "${LOGIN_ID:0:8}" --for 1h --comment "INC-4711 ok for 1h" ||
        fail "approve failed"
    local decided=$EPOCHREALTIME rc
    wait_status "$SSH_BG_PID" 10 "the approved login"; rc=$STATUS
    show_ssh_output second
    note "(an approved login just opens: no Lockbox text, the command runs)"
    say "(ssh exited with status $rc, $(elapsed_ms "$decided") ms after the approval)"
    [ "$rc" = 0 ] || fail "the approved login failed (ssh exit $rc)"
    must_contain "$TMP/ssh.second.out" "logged in as $ENG on"
}

elapsed_s() { # elapsed_s SINCE: seconds, one decimal
    python3 -c "import sys, time; print(round(time.time() - float(sys.argv[1]), 1))" "$1"
}
elapsed_ms() { # elapsed_ms SINCE ($EPOCHREALTIME then)
    python3 -c "import sys, time; print(round((time.time() - float(sys.argv[1])) * 1000))" "$1"
}

scene_file_ahead_denied() {
    scene 4 "Filing ahead: lockboxctl request and wait; the admin denies with a comment"
    note "The flow the README recommends: file with a reason, wait, log in once approved."
    as "$ENG" request --reason "INC-4712 rotate the TLS certificate on $HOST" ||
        fail "request failed"
    AHEAD_ID=$(grep -oE 'Request [0-9a-f]{32} filed' "$TMP/out" | cut -d' ' -f2)
    [ -n "$AHEAD_ID" ] || fail "request did not say which request it filed"
    printf '   %sengineer$ lockboxctl wait %s%s   %s(on a terminal, in the background)%s\n' \
        "$BOLD" "${AHEAD_ID:0:8}" "$PLAIN" "$DIM" "$PLAIN"
    script -qfec "runuser -u $ENG -- $LOCKBOXCTL wait ${AHEAD_ID:0:8}" /dev/null \
        >"$TMP/wait.tty" </dev/null &
    local wait_pid=$!
    PIDS+=("$wait_pid")
    until_true 10 contains "$TMP/wait.tty" "waiting for a decision" ||
        fail "lockboxctl wait showed no progress line"
    as "$ADMIN" deny "${AHEAD_ID:0:8}" \
        --comment "INC-4712 is scheduled for Friday; file again then" ||
        fail "deny failed"
    local rc
    wait_status "$wait_pid" 10 "lockboxctl wait on a denied request"; rc=$STATUS
    note "What the engineer's terminal showed (the progress line, then the outcome):"
    terminal_lines "$TMP/wait.tty" | indent "| "
    say "(lockboxctl wait exited with status $rc)"
    [ "$rc" = 1 ] || fail "wait on a denied request exited $rc, not 1"
    must_contain "$TMP/wait.tty" "denied by $ADMIN: INC-4712 is scheduled for Friday"
}

open_sessions() { # how many open login sessions request $1 has
    runuser -u "$ADMIN" -- "$LOCKBOXCTL" --json show "$1" |
        python3 -c 'import json, sys
print(sum(s["state"] == "open" for s in json.load(sys.stdin)["sessions"]))'
}

scene_revoke_ends_session() {
    scene 5 "Revoke ends a live session"
    note "An interactive ssh session (a shell on a terminal) under the approval of scene 3;"
    note "the engineer types: echo session up as \$(id -un); sleep 600"
    show_ssh -tt ""
    mkfifo "$HOLD_FIFO"
    exec 7<>"$HOLD_FIFO"   # the session's terminal input stays open until the demo ends
    "${SSH_OPTS[@]}" -tt "$ENG@127.0.0.1" <&7 >"$TMP/ssh.session.out" 2>&1 &
    local ssh_pid=$!
    PIDS+=("$ssh_pid")
    until_true 20 contains "$TMP/ssh.session.out" "$ENG@" ||   # the shell's prompt
        fail "the session did not start: $(cat "$TMP/ssh.session.out" 2>/dev/null)"
    echo 'echo session up as $(id -un); sleep 600' >&7
    until_true 20 contains "$TMP/ssh.session.out" "session up as $ENG" ||
        fail "the session did not start: $(cat "$TMP/ssh.session.out")"
    until_true 10 test "$(open_sessions "$LOGIN_ID")" -ge 1 ||
        fail "lockboxd does not know the session (is the session line in sshd's stack?)"
    AS_FROM="^Sessions" AS_NOTE="   ${DIM}(its last lines)${PLAIN}" \
        as "$ADMIN" show "${LOGIN_ID:0:8}" ||
        fail "show failed"
    must_contain "$TMP/out" "open since"
    as "$ADMIN" revoke "${LOGIN_ID:0:8}" --comment "INC-4711 done, thanks" || fail "revoke failed"
    must_contain "$TMP/out" "Ended 1 live session of $ENG"
    local revoked=$EPOCHREALTIME rc
    wait_status "$ssh_pid" 15 "the revoked session"; rc=$STATUS
    note "What the engineer's terminal showed:"
    terminal_lines "$TMP/ssh.session.out" | indent "| "
    say "(ssh exited with status $rc, $(elapsed_ms "$revoked") ms after the revoke)"
    must_contain "$TMP/ssh.session.out" "has ended (revoked by $ADMIN"
    until_true 10 no_process_of "$ENG" ||
        fail "processes of $ENG survived the revoke: $(ps -o pid,args -u "$ENG")"
    say "No process of $ENG is left on the host."
}

# `lockboxctl audit` lines with what is the same on every line here left out.
condensed_audit() {
    sed -E -e 's/ id=([0-9a-f]{8})[0-9a-f]{24}/ id=\1/' \
        -e 's/ (tenant|host|user|requester|expires_at)=[^ ]+//g' \
        -e 's/ reason=("([^"\\]|\\.)*"|[^ ]+)//' -e 's/(session [0-9a-f]{8})[0-9a-f]{24}/\1/'
}

no_process_of() { ! ps -o pid= -u "$1" >/dev/null; }

audit_events() { # the audit file's event names, in order
    python3 -c 'import json, sys
for line in open(sys.argv[1]):
    print(json.loads(line)["event"])' "$AUDIT"
}

scene_audit() {
    scene 6 "The audit trail: every event above, hash-chained, verified"
    AS_FILTER=condensed_audit AS_NOTE="   ${DIM}(condensed: ids cut to 8 characters; tenant,
   host, user, reason and expiry left out)${PLAIN}" as root audit || fail "audit failed"
    as root audit verify || fail "the audit chain does not verify"
    local event
    audit_events >"$TMP/events"
    for event in request.created login.denied request.approved login.allowed request.denied \
                 session.opened access.revoked session.terminated; do
        grep -qx "$event" "$TMP/events" || fail "no $event record in the audit file"
    done
    say "The audit file is $AUDIT: $(wc -l <"$AUDIT") JSON lines, one per event,"
    say "each chained to the one before by its SHA-256 (prev_hash). Installed, it is"
    say "/var/log/lockbox/audit.jsonl; 'lockboxctl audit verify' is the weekly check."
    note "Syslog (authpriv) got the same events, e.g. lockboxd's and the module's on the approval:"
    grep -F "$LOGIN_ID" "$SYSLOG" |
        grep -E 'lockboxd.*event=request.approved|pam_lockbox.*event=login.allowed' | head -n 2 |
        sed -E -e 's/^<[0-9]+>//' \
            -e 's/ (tenant|host|user|service|rhost|reason)=("([^"\\]|\\.)*"|[^ ]+)//g' | indent
    grep -q "pam_lockbox.*$LOGIN_ID" "$SYSLOG" || fail "no pam_lockbox line in syslog"
}

scene_setup
scene_blocked_login
scene_admin_looks
scene_approved_login
scene_file_ahead_denied
scene_revoke_ends_session
scene_audit
SCENE="cleaning up"
scene 7 "Done in $(elapsed_s "$STARTED") s: stopping lockboxd and sshd, removing $ENG, $ADMIN" \
    "and $TMP"
