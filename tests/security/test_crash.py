"""kill -9 at random moments while requests are filed, decided, revoked and checked: no
acknowledged decision is lost, none is recorded twice, and after every restart the audit file
verifies and equals the database (its audit table, the request states and the health head).
`make test` runs a few cycles, `make soak` (LOCKBOX_SOAK=1) at least fifty."""

import json
import os
import pwd
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import security_lib as sl  # noqa: E402
from security_lib import lt  # noqa: E402

PREFIX = lt.unique_prefix("lbk")  # every account this file adds starts so
U = lt.Users(PREFIX)
ALICE, ENG = PREFIX + "_alice", PREFIX + "_eng"
DECISION_EVENTS = {"approve": "request.approved", "deny": "request.denied",
                   "revoke": "access.revoked"}
STATE_AFTER = {"approve": "approved", "deny": "denied", "revoke": "revoked"}


def setUpModule():
    U.add(ALICE)
    U.add(ENG)


def tearDownModule():
    U.cleanup()


def drive_load(socket_path, log_path, control_dir, seed):
    """The load, in a forked root process: files requests for ENG (as root, as the PAM module
    does), decides them as ALICE and checks access, one connection per call. Each answered
    call is logged; a call that got no answer (the daemon died under it) is logged as
    uncertain and its request is never touched again. Between operations it stops while
    control_dir/pause exists (saying so in control_dir/paused-SEED) and ends at .../stop."""
    stop_path = os.path.join(control_dir, "stop")
    pause_path = os.path.join(control_dir, "pause")
    paused_path = os.path.join(control_dir, "paused-%d" % seed)
    rng = random.Random(seed)
    alice = pwd.getpwnam(ALICE)
    log = open(log_path, "a", buffering=1)
    approved, n = [], 0

    def call(uid, gid, method, path, body):
        sock = None
        try:
            sock = sl.connect_as(socket_path, uid, gid)
            return sl.http_on(sock, method, path, body, timeout=10)
        except (OSError, ValueError, IndexError):
            return None, None
        finally:
            if sock is not None:
                sock.close()

    def note(**entry):
        log.write(json.dumps(entry) + "\n")

    while not os.path.exists(stop_path):
        if os.path.exists(pause_path):
            open(paused_path, "w").close()
            while os.path.exists(pause_path) and not os.path.exists(stop_path):
                time.sleep(0.01)
            os.unlink(paused_path)
            continue
        n += 1
        # For the daemon's own host (the only one it files for); each asked by another
        # requester, so each is a request of its own rather than the pending one reused.
        status, obj = call(0, None, "POST", "/v1/requests",
                           {"reason": "load %d" % n, "user": ENG, "host": sl.HOST,
                            "requester": "k%d-%d" % (seed, n)})
        if status != 201:
            time.sleep(0.01)
            continue
        rid = obj["id"]
        note(op="created", id=rid)
        action = rng.choice(["approve", "approve", "deny"])
        status, obj = call(alice.pw_uid, alice.pw_gid, "POST",
                           "/v1/requests/%s/%s" % (rid, action), {"comment": "load"})
        if status is None:
            note(op="uncertain", id=rid, action=action, before="pending")
            continue
        note(op="answer", id=rid, action=action, status=status,
             state=obj.get("state") if status == 200 else None)
        if status == 200 and action == "approve":
            approved.append(rid)
            call(0, None, "POST", "/v1/access/check", {"user": ENG, "host": sl.HOST})
        if approved and rng.random() < 0.3:
            rid = approved.pop(rng.randrange(len(approved)))
            status, obj = call(alice.pw_uid, alice.pw_gid, "POST",
                               "/v1/requests/%s/revoke" % rid, {})
            if status is None:
                note(op="uncertain", id=rid, action="revoke", before="approved")
            else:
                note(op="answer", id=rid, action="revoke", status=status,
                     state=obj.get("state") if status == 200 else None)
    log.close()
    return n


class KillNine(unittest.TestCase):
    def setUp(self):
        self.d = lt.Daemon(tenants={sl.TENANT: [ALICE]}, host=sl.HOST, max_pending=1000)
        self.d.start()
        self.log_path = os.path.join(self.d.dir, "acks.jsonl")
        self.control = os.path.join(self.d.dir, "control")
        os.mkdir(self.control)

    def tearDown(self):
        self.d.close()

    def acknowledged(self):
        with open(self.log_path) as f:
            return [json.loads(l) for l in f if l.strip()]

    def check_consistent(self):
        """After a restart: file == database, chain verifies, head matches, states match the
        audit events, and no request was decided (or revoked) twice."""
        lines = sl.verify_against_daemon(self, self.d)
        events = {}
        for line in lines:
            rec = json.loads(line)
            events.setdefault(rec["request_id"], []).append(rec["event"])
        states = dict(self.d.db("SELECT id, state FROM requests"))
        names = ["pending", "approved", "denied", "expired", "revoked"]
        for rid, evs in events.items():
            if rid is None:
                continue
            self.assertEqual(evs.count("request.created"), 1, (rid, evs))
            decided = evs.count("request.approved") + evs.count("request.denied")
            self.assertLessEqual(decided, 1, (rid, evs))
            self.assertLessEqual(evs.count("access.revoked"), 1, (rid, evs))
            implied = "pending"
            for ev, state in (("request.approved", "approved"), ("request.denied", "denied"),
                              ("access.revoked", "revoked")):
                if ev in evs:
                    implied = state
            self.assertEqual(names[states[rid]], implied, (rid, evs))
        self.assertEqual(set(states), set(r for r in events if r), "requests without records")
        return events, {rid: names[s] for rid, s in states.items()}

    def test_kill9_loop_loses_and_duplicates_nothing(self):
        cycles = sl.scaled(4, 60)
        rng = random.Random()
        seeds = (1, 2)
        drivers = [sl.ForkedUser("root", lambda seed=seed: drive_load(
            self.d.socket, self.log_path, self.control, seed)) for seed in seeds]
        pause = os.path.join(self.control, "pause")
        try:
            for cycle in range(cycles):
                time.sleep(rng.uniform(0.2, 0.8))  # chaos: the kill lands at a random moment
                self.d.kill9()  # at a random moment of the load
                open(pause, "w").close()
                self.d.start(timeout=30)
                # Check a quiet daemon: the load stops between operations.
                self.assertTrue(sl.wait_until(lambda: all(os.path.exists(os.path.join(
                    self.control, "paused-%d" % s)) for s in seeds), 30))
                self.check_consistent()
                os.unlink(pause)
        finally:
            open(os.path.join(self.control, "stop"), "w").close()
            loops = [drv.join(timeout=60) for drv in drivers]
        events, states = self.check_consistent()
        acks = self.acknowledged()
        answered = [a for a in acks if a["op"] == "answer" and a["status"] == 200]
        self.assertGreater(sum(loops), cycles, "the load did not run")
        self.assertGreater(len(answered), cycles, "too few decisions to mean anything")
        for ack in acks:
            rid = ack["id"]
            self.assertIn(rid, states, "an acknowledged request was lost: %s" % ack)
            evs = events[rid]
            if ack["op"] == "answer" and ack["status"] == 200:
                self.assertEqual(evs.count(DECISION_EVENTS[ack["action"]]), 1, (ack, evs))
                self.assertEqual(ack["state"], STATE_AFTER[ack["action"]])
        # The final state is the last acknowledged one, unless a later call was cut off by
        # the kill; then it is the state before or after that call.
        last = {}
        for ack in acks:
            if ack["op"] == "answer" and ack["status"] == 200:
                last[ack["id"]] = {ack["state"]}
            elif ack["op"] == "uncertain":
                last[ack["id"]] = {ack["before"], STATE_AFTER[ack["action"]]}
        for rid, allowed in last.items():
            self.assertIn(states[rid], allowed, (rid, events[rid]))
        uncertain = sum(1 for a in acks if a["op"] == "uncertain")
        print("\n%d cycles, %d requests, %d acknowledged decisions, %d cut off by a kill"
              % (cycles, len(states), len(answered), uncertain), file=sys.stderr)


if __name__ == "__main__":
    sl.require_root()
    unittest.main()
