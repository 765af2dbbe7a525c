/* Ending everything a login started, also what it left behind after logging out: the login's
 * session cgroup where systemd made one (pam_systemd's session-N.scope: cgroup.kill), and its
 * kernel audit session (pam_loginuid), which fork, setsid and double forks cannot leave.
 * docs/SECURITY.md says what can still escape. */
#ifndef LOCKBOXD_CONTAINMENT_H
#define LOCKBOXD_CONTAINMENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CONTAINMENT_CGROUP_MAX 512

/* Where a login's processes can be found again; audit_session -1 and cgroup "" when neither
 * exists (then only the process tree below the session process is known). */
struct containment {
    int64_t audit_session;
    char cgroup[CONTAINMENT_CGROUP_MAX]; /* absolute path of the session scope's directory */
};

/* Fills c for the login of uid whose session process is pid: only an audit session that began
 * with this login (this uid's login uid, its parent outside it) and only logind's session
 * scope of this uid count. */
void containment_of(pid_t pid, uid_t uid, struct containment *c);
/* Is a process of it still running? */
bool containment_populated(const struct containment *c);
/* Ends every process of n logins together (one pass over /proc a round, however many):
 * cgroup.kill, then rounds of SIGSTOP over the audit sessions until several rounds in a row
 * find nothing new (a stopped process cannot fork), then SIGKILL until several rounds find
 * none, at most a bounded number of rounds. Returns how many processes were signalled to
 * die; *survivors says how many were still there at the end (0 normally). */
int containment_end(const struct containment *cs, size_t n, size_t *survivors);

/* Pure: logind's session scope of uid in one line of /proc/PID/cgroup
 * ("0::/user.slice/user-UID.slice/session-4.scope"), or -1 for any other line. */
int containment_parse_cgroup_line(const char *line, uid_t uid, char *path, size_t path_len);

#endif
