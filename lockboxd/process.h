/* The operating-system edge of session enforcement: identifying a process so that a reused
 * pid is never mistaken for it, pidfds, the process tree below a session leader, and writing
 * a warning to a user's terminal. */
#ifndef LOCKBOXD_PROCESS_H
#define LOCKBOXD_PROCESS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Start time (clock ticks since boot, /proc/PID/stat field 22): with the pid, an identity no
 * later process can share. Returns 0 or -1 (no such process). */
int process_start_time(pid_t pid, uint64_t *start_time);
/* A pidfd for pid if it is still the process that started at start_time, else -1. */
int process_open(pid_t pid, uint64_t start_time);
struct process_ident {
    pid_t pid;
    uint64_t start_time;
};

/* pid and every process below it, each with its start time; *out is malloc'd. */
size_t process_snapshot_tree(pid_t pid, struct process_ident **out);
/* Sends sig to each process of a snapshot that is still the same process (checked through a
 * pidfd, so a reused pid is never signalled). Returns how many were signalled. */
int process_signal_snapshot(const struct process_ident *procs, size_t n, int sig);
/* The kernel audit session of pid (/proc/PID/sessionid), or -1 when it has none (no
 * pam_loginuid in the stack, or no audit support). */
int64_t process_audit_session(pid_t pid);
/* Every process in an audit session, with start times (as process_snapshot_tree). */
size_t process_snapshot_audit_session(int64_t audit_session, struct process_ident **out);
/* The same for any of several audit sessions, in one pass over /proc. */
size_t process_snapshot_audit_sessions(const int64_t *ids, size_t n_ids,
                                       struct process_ident **out);
/* Is the process behind this pidfd still running? */
int process_alive(int pidfd);
/* The terminal of a session: the controlling terminal of pid itself, else the first one owned
 * by uid that a process below it has; *owner is the terminal's owner, for tty_write(). Reads
 * /proc/PID/stat only (no ptrace access needed). Returns 0 or -1. */
int process_find_tty(pid_t pid, uid_t uid, char *out, size_t out_len, uid_t *owner);
/* The parent of pid, or -1. */
pid_t process_parent(pid_t pid);
/* Writes text to a terminal device that is still owned by uid (never follows links, never
 * blocks). Returns 0 or -1. */
int tty_write(const char *tty, uid_t uid, const char *text);

#endif
