#!/bin/bash
# Package test: builds (or takes $LOCKBOX_DEB) the .deb, installs it on this machine, runs the
# installed lockboxd the way the unit does (root without capabilities), asks its login socket
# who it is, drives it with the installed lockboxctl, rotates the audit file with the shipped
# logrotate config, then purges the package and checks that nothing is left. It changes the
# machine: ctest runs it only with -DLOCKBOX_PACKAGE_TESTS=ON.
# Usage: tests/package/test_deb.sh [OUTDIR]   Exit 77 = skipped.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$src/build-deb}
tmp=$(mktemp -d /tmp/lockbox-pkgtest.XXXXXX)
prefix=lbpkg$$
engineer=${prefix}e
admin=${prefix}a
daemon_pid=""
installed_by_us=0

say() { echo "test_deb: $*"; }
fail() { echo "test_deb: FAIL: $*" >&2; exit 1; }

cleanup() {
    local rc=$?
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
    fi
    userdel "$engineer" 2>/dev/null || true
    userdel "$admin" 2>/dev/null || true
    if [ "$installed_by_us" = 1 ] && dpkg-query -W -f='${Status}' lockbox 2>/dev/null | grep -q installed; then
        dpkg --purge lockbox >/dev/null 2>&1 || true
    fi
    if [ "$rc" != 0 ] && [ -s "$tmp/lockboxd.log" ]; then
        echo "--- lockboxd output ---" >&2
        tail -n 30 "$tmp/lockboxd.log" >&2
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { say "SKIP: needs root (dpkg -i)"; exit 77; }
# Never touch a real installation or a daemon someone else runs.
if dpkg-query -W -f='${Status}' lockbox 2>/dev/null | grep -q "ok installed"; then
    say "SKIP: the lockbox package is already installed here"; exit 77
fi
for path in /etc/lockbox /var/lib/lockbox /var/log/lockbox /run/lockbox/lockboxd.sock \
            /run/lockbox/pam.sock; do
    [ ! -e "$path" ] || { say "SKIP: $path exists (a Lockbox installation is present)"; exit 77; }
done

# --- build ---------------------------------------------------------------------------------
if [ -n "${LOCKBOX_DEB:-}" ]; then
    deb=$LOCKBOX_DEB
else
    deb=$("$src/packaging/build-deb.sh" "$out" | tail -n 1)
fi
[ -f "$deb" ] || fail "no package at '$deb'"
say "package: $deb"
if [ -f "$(dirname "$deb")/lintian.txt" ]; then
    ! grep -E '^[EW]:' "$(dirname "$deb")/lintian.txt" || fail "lintian reports errors or warnings"
fi

# --- install (no systemd runs here: postinst must neither start nor fail) -------------------
installed_by_us=1
dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -i failed"; }
dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "reinstall failed"; }
dpkg-query -W -f='${Status}' lockbox | grep -q "install ok installed" || fail "not installed"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
for path in /usr/sbin/lockboxd /usr/bin/lockboxctl "/lib/$multiarch/security/pam_lockbox.so" \
            /lib/systemd/system/lockboxd.service /lib/systemd/system/lockboxd.socket \
            /lib/systemd/system/lockboxd-pam.socket /usr/lib/tmpfiles.d/lockbox.conf \
            /etc/logrotate.d/lockbox /etc/lockbox/lockboxd.conf \
            /usr/share/man/man8/lockboxd.8.gz /usr/share/man/man5/lockboxd.conf.5.gz \
            /usr/share/man/man1/lockboxctl.1.gz /usr/share/man/man8/pam_lockbox.8.gz \
            /usr/share/bash-completion/completions/lockboxctl \
            /usr/share/doc/lockbox/examples/pam.d/sshd \
            /usr/share/doc/lockbox/examples/sshd_config.d/lockbox.conf; do
    [ -e "$path" ] || fail "$path was not installed"
done
grep -qx /etc/lockbox/lockboxd.conf /var/lib/dpkg/info/lockbox.conffiles || fail "config is not a conffile"
[ -L /etc/systemd/system/multi-user.target.wants/lockboxd.service ] || fail "unit not enabled"
for unit in lockboxd.socket lockboxd-pam.socket; do
    [ -L "/etc/systemd/system/sockets.target.wants/$unit" ] || fail "$unit not enabled"
done
getent group lockbox-admins >/dev/null || fail "postinst did not create group lockbox-admins"
/usr/sbin/lockboxd --check-config || fail "the shipped configuration does not pass --check-config"

if command -v systemd-analyze >/dev/null &&
   systemd-analyze security --offline=yes /lib/systemd/system/lockboxd.service >"$tmp/sa" 2>&1; then
    exposure=$(sed -n 's/.*Overall exposure level for lockboxd.service: \([0-9.]*\).*/\1/p' "$tmp/sa")
    say "systemd-analyze security exposure: $exposure"
    awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 1.5) }' ||
        fail "unit exposure '$exposure' is above 1.5 (see docs/SYSTEMD.md)"
fi

# --- run the installed daemon as the unit does: uid 0, no capabilities, no new privileges ---
useradd -M -N -s /bin/sh "$engineer"
useradd -M -N -s /bin/sh -G lockbox-admins "$admin"
setpriv --bounding-set=-all,+kill --inh-caps=-all --no-new-privs /usr/sbin/lockboxd -f \
    >"$tmp/lockboxd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do
    [ -S /run/lockbox/lockboxd.sock ] && [ -S /run/lockbox/pam.sock ] && break
    kill -0 "$daemon_pid" 2>/dev/null || fail "lockboxd exited at start-up"
    sleep 0.1
done
[ -S /run/lockbox/lockboxd.sock ] && [ -S /run/lockbox/pam.sock ] || fail "no sockets after 10 s"
[ "$(stat -c '%U %a' /run/lockbox/pam.sock)" = "root 600" ] || fail "the login socket is not root 0600"
[ "$(stat -c '%U %a' /var/lib/lockbox)" = "root 700" ] || fail "/var/lib/lockbox is not root 0700"

health=$(python3 - <<'PY'
import http.client, json, socket
class Unix(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect("/run/lockbox/lockboxd.sock")
c = Unix("localhost")
c.request("GET", "/v1/health")
r = c.getresponse()
body = json.loads(r.read())
print(r.status, body["status"], body["tenant"], body["audit_ok"])
PY
)
[ "$health" = "200 ok example True" ] || fail "health answered '$health'"

# The login socket (pam_lockbox's door): one JSON message each way over SOCK_SEQPACKET.
described=$(python3 - <<'PY'
import json, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(5)
s.connect("/run/lockbox/pam.sock")
s.send(b'{"op":"describe"}')
reply = json.loads(s.recv(16384))
print(reply["status"], reply["tenant"])
PY
)
[ "$described" = "200 example" ] || fail "the login socket answered '$described'"

json_field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[sys.argv[1]])' "$1"; }
id=$(runuser -u "$engineer" -- lockboxctl --json request --reason "package test" | json_field id)
[[ "$id" =~ ^[0-9a-f]{32}$ ]] || fail "request returned id '$id'"
runuser -u "$engineer" -- lockboxctl approve "$id" >/dev/null 2>&1 && fail "the requester approved their own request"
runuser -u "$admin" -- lockboxctl approve "$id" --comment "ok for the test" >/dev/null ||
    fail "the admin could not approve"
state=$(lockboxctl --json list --state all | python3 -c '
import json, sys
print(" ".join(r["state"] for r in json.load(sys.stdin) if r["id"] == sys.argv[1]))' "$id")
[ "$state" = approved ] || fail "root's list shows the request as '$state'"
lockboxctl audit verify >/dev/null || fail "audit verify failed on a fresh chain"

# --- rotation with the shipped logrotate config (SIGHUP, nothing deleted) -------------------
if command -v logrotate >/dev/null; then
    logrotate -f -s "$tmp/logrotate.state" /etc/logrotate.d/lockbox
    rotated=$(find /var/log/lockbox -name 'audit.jsonl-*' | sort | head -n 1)
    [ -n "$rotated" ] || fail "logrotate did not keep a rotated file"
    runuser -u "$admin" -- lockboxctl revoke "$id" --comment "done" >/dev/null || fail "revoke failed"
    for _ in $(seq 50); do [ -s /var/log/lockbox/audit.jsonl ] && break; sleep 0.1; done
    [ -s /var/log/lockbox/audit.jsonl ] || fail "no new audit file after SIGHUP"
    lockboxctl audit verify --file "$rotated" --file /var/log/lockbox/audit.jsonl >/dev/null ||
        fail "the chain does not continue across the rotation"
    say "rotation: $(wc -l <"$rotated") + $(wc -l </var/log/lockbox/audit.jsonl) records verified"
fi

kill "$daemon_pid"
wait "$daemon_pid" || fail "lockboxd did not stop cleanly on SIGTERM"
daemon_pid=""

# --- purge: nothing of the package may stay behind -----------------------------------------
userdel "$engineer"
userdel "$admin"
dpkg --purge lockbox >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg --purge failed"; }
installed_by_us=0
! dpkg-query -W -f='${Status}' lockbox 2>/dev/null | grep -q "installed" || fail "still installed"
for path in /etc/lockbox /usr/sbin/lockboxd /usr/bin/lockboxctl "/lib/$multiarch/security/pam_lockbox.so" \
            /lib/systemd/system/lockboxd.service /lib/systemd/system/lockboxd.socket \
            /lib/systemd/system/lockboxd-pam.socket /etc/logrotate.d/lockbox /var/lib/lockbox \
            /var/log/lockbox /run/lockbox /usr/share/doc/lockbox \
            /etc/systemd/system/multi-user.target.wants/lockboxd.service \
            /etc/systemd/system/sockets.target.wants/lockboxd.socket \
            /etc/systemd/system/sockets.target.wants/lockboxd-pam.socket; do
    if [ -e "$path" ] || [ -L "$path" ]; then fail "$path is left after purge"; fi
done
! getent group lockbox-admins >/dev/null || fail "group lockbox-admins is left after purge"
say "PASS"
