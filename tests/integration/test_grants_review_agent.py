"""Step 16 on an agent, against an attacker review's finding: a malicious central held a
long-window grant and replayed it months after it was signed (the request new to the agent);
no host bounded a statement's window by its access_ttl. The test failed before the fix.

Run: LOCKBOX_BUILD=<cmake build dir> python3 tests/integration/test_grants_review_agent.py -v
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lockbox_testlib as lt  # noqa: E402
import test_agents as ta  # noqa: E402  (its helpers and certificates; none of its tests)
import test_grants_agent as tga  # noqa: E402  (ForgingCentral's set-up; none of its tests)

DAY_S = 24 * 3600


def setUpModule():
    ta.setUpModule()


def tearDownModule():
    ta.tearDownModule()


def fmt(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class LateReplay(tga.ForgingCentral):
    # ForgingCentral's own tests run in their file, not again here.
    test_approved_without_a_grant_is_denied = None
    test_approved_with_a_grant_no_pinned_key_signed_is_denied = None
    test_approved_with_a_valid_grant_lets_the_login_in = None

    def test_a_grant_signed_200_days_ago_opens_the_host_now(self):
        user = self.new_user()
        now = int(time.time())
        req = ta.approved_request(user)
        # Filed and signed 200 days ago, for a year: the approver ran `approve --key` on a
        # statement central had pre-started (test_grants_review.py shows the client signs it).
        req["created_at"] = fmt(now - 200 * DAY_S)
        req["decided_at"] = fmt(now - 200 * DAY_S)
        req["expires_at"] = fmt(now + 165 * DAY_S)
        req["grant"] = self.signed_grant(req, self.alice_key, "alice")
        self.assertIn("not-after %s\n" % req["expires_at"], req["grant"])
        self.serve(req)  # delivered only now, as a request new to this host
        self.assertEqual(self.login(self.agent, user)["account"], "PAM_PERM_DENIED",
                         "a 365-day grant signed 200 days ago opened the host today")


if __name__ == "__main__":
    unittest.main()
