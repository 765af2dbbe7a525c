/* Login sessions (the PAM session stack) and what they leave behind. A session is registered
 * when it opens and watched through a pidfd; when it closes, whatever it left running (found
 * again through its audit session or session cgroup, containment.h) stays under the approval.
 * Access follows the user, tenant and host, not the request a login came in with: while any
 * current approval covers them, their sessions live on (a new approval extends them); when
 * none does, open sessions are warned and terminated (SIGHUP, then SIGKILL after a grace
 * period) and leftovers are ended. Kept in the database, so enforcement survives a restart. */
#ifndef LOCKBOXD_SESSIONS_H
#define LOCKBOXD_SESSIONS_H
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "containment.h"
#include "event_source.h"
#include "journal.h"
#include "process.h"
#include "request.h"
#include "store.h"

struct session_watch;

struct session_entry {
    char id[LOCKBOX_ID_HEX_LEN + 1];
    char request_id[LOCKBOX_ID_HEX_LEN + 1]; /* the approval that covers it now */
    char user[LOCKBOX_NAME_MAX + 1];
    char tenant[LOCKBOX_NAME_MAX + 1];
    char host[LOCKBOX_HOST_MAX + 1];
    char tty[64];
    uid_t uid;
    pid_t pid;
    uint64_t start_time;
    struct containment contain;
    bool open;                   /* false: closed, only its leftovers are tracked */
    int pidfd;                   /* open sessions only */
    struct session_watch *watch; /* its pidfd in the epoll set (entries move; this does not) */
    int64_t access_end_boot_ms;  /* for the warning ahead of the end */
    bool warned;
    int64_t warn_retry_boot_ms; /* no terminal yet: try the warning again then */
    int64_t warn_backoff_ms;
    int64_t hup_at_boot_ms;  /* > 0 until the SIGHUP is sent */
    int64_t kill_at_boot_ms; /* > 0 while being terminated (or a leftover being ended) */
    int kill_attempts;
    struct process_ident *procs;
    size_t n_procs;
};

struct sessions {
    const struct lockboxd_config *config;
    struct store *store;
    struct journal *journal;
    int epoll_fd;
    void (*read_clock)(struct lockbox_clock *now); /* for the events of the pidfds */
    struct session_entry *items;
    size_t n, cap;
    uint64_t changes; /* sessions opened, closed or ended so far (sessions_changes) */
};

struct session_open_input {
    const char *user, *tenant, *host, *service, *rhost, *tty;
    pid_t pid; /* from SO_PEERCRED: the process that opens the session */
};

/* What a change of access did to the sessions of one user, tenant and host. */
struct session_change {
    int terminated;      /* open sessions now being closed */
    int kept;            /* open sessions another current approval still covers */
    int leftovers_ended; /* closed sessions whose left-behind processes were ended */
    char kept_by[LOCKBOX_ID_HEX_LEN + 1]; /* that approval */
    bool unreadable;                      /* the approvals could not be read */
};

int sessions_init(struct sessions *s, const struct lockboxd_config *config, struct store *store,
                  struct journal *journal, char *err, size_t err_len);
/* Re-attaches every open session and tracked leftover from the database (after a restart)
 * and watches pidfds on epoll_fd (their events read the time with read_clock). What lost its
 * access while the daemon was down ends now. */
void sessions_attach(struct sessions *s, int epoll_fd,
                     void (*read_clock)(struct lockbox_clock *now),
                     const struct lockbox_clock *now);
void sessions_free(struct sessions *s);

/* LOCKBOX_OK and the new id; LOCKBOX_NOT_FOUND when no current approval covers the login
 * (nothing registered); LOCKBOX_ERROR with err. */
enum lockbox_result sessions_open(struct sessions *s, const struct session_open_input *in,
                                  const struct lockbox_clock *now, char id[LOCKBOX_ID_HEX_LEN + 1],
                                  struct lockbox_request *req, char *err, size_t err_len);
/* LOCKBOX_OK closed (or already closed or ended), LOCKBOX_NOT_FOUND no such session. */
enum lockbox_result sessions_close(struct sessions *s, const char *id,
                                   const struct lockbox_clock *now);
/* After an approval, revocation or expiry for user, tenant and host: rebinds their sessions
 * to the longest current approval, or ends them (open ones and leftovers) when none is left.
 * why ("revoked by alice") goes to the audit and the session's terminal; comment (the
 * revoking admin's, or NULL) to the terminal only, escaped: the audit has it already.
 * may_end: false after an approval, which must never end anything (not even when the
 * approvals cannot be read); revocation and expiry fail closed. */
struct session_change sessions_access_changed(struct sessions *s, const char *user,
                                              const char *tenant, const char *host,
                                              const char *actor, const char *why,
                                              const char *comment, bool may_end,
                                              const struct lockbox_clock *now);
/* After this lockboxd may have missed what other lockboxd on its database changed (the
 * connection that hears them was lost): every session here follows the approvals as they are
 * now, so a revoke or expiry decided meanwhile still ends it. Returns 0, or -1 when the
 * approvals could not be read (nothing was ended for that: call again). */
int sessions_follow_approvals(struct sessions *s, const struct lockbox_clock *now);
/* Boot-clock ms of the next warning, SIGHUP or SIGKILL (INT64_MAX: none). */
int64_t sessions_next_deadline(const struct sessions *s);
void sessions_run_deadlines(struct sessions *s, const struct lockbox_clock *now);
/* The sessions of a request, for `show`. */
json_object *sessions_of_request(struct sessions *s, const char *request_id);
/* Counts every session recorded as opened, closed or ended: a reader that saw another count
 * knows the live sessions changed since (an agent's report to central). */
uint64_t sessions_changes(const struct sessions *s);

#endif
