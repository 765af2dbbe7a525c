/* Live login sessions (the PAM session stack): registered when they open, closed when they
 * close or their process exits (a pidfd in the event loop), warned before their access ends,
 * and terminated (SIGHUP, then SIGKILL after a grace period) when it is revoked or expires.
 * Sessions are kept in the database, so enforcement survives a daemon restart. */
#ifndef LOCKBOXD_SESSIONS_H
#define LOCKBOXD_SESSIONS_H
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "journal.h"
#include "process.h"
#include "request.h"
#include "store.h"

struct session_entry {
    char id[LOCKBOX_ID_HEX_LEN + 1];
    char request_id[LOCKBOX_ID_HEX_LEN + 1];
    char user[LOCKBOX_NAME_MAX + 1];
    char tenant[LOCKBOX_NAME_MAX + 1];
    char host[LOCKBOX_HOST_MAX + 1];
    char tty[64];
    uid_t uid;
    pid_t pid;
    uint64_t start_time;
    int64_t audit_session;      /* -1: none; else its processes cannot setsid() out of it */
    int pidfd;
    int64_t access_end_boot_ms; /* for the warning ahead of the end */
    bool warned;
    int64_t hup_at_boot_ms;     /* > 0 until the SIGHUP is sent */
    int64_t kill_at_boot_ms;    /* > 0 while being terminated */
    struct process_ident *procs;
    size_t n_procs;
};

struct sessions {
    const struct lockboxd_config *config;
    struct store *store;
    struct journal *journal;
    int epoll_fd;
    struct session_entry *items;
    size_t n, cap;
    struct sqlite3_stmt *statements[6];
};

struct session_open_input {
    const char *user, *tenant, *host, *service, *rhost, *tty;
    pid_t pid; /* from SO_PEERCRED: the process that opens the session */
};

int sessions_init(struct sessions *s, const struct lockboxd_config *config, struct store *store,
                  struct journal *journal, char *err, size_t err_len);
/* Re-attaches every open session from the database (after a restart) and watches pidfds on
 * epoll_fd. Sessions whose access ended while the daemon was down are terminated now. */
void sessions_attach(struct sessions *s, int epoll_fd, const struct lockbox_clock *now);
void sessions_free(struct sessions *s);

/* 0 and the new id; 1 when access is not current (nothing registered); -1 on error. */
int sessions_open(struct sessions *s, const struct session_open_input *in,
                  const struct lockbox_clock *now, char id[LOCKBOX_ID_HEX_LEN + 1],
                  struct lockbox_request *req, char *err, size_t err_len);
/* 0 closed (or already closed or ended), 1 no such session, -1 error. */
int sessions_close(struct sessions *s, const char *id, const struct lockbox_clock *now);
/* Ends every live session of a request; returns how many. */
int sessions_terminate_request(struct sessions *s, const char *request_id, const char *actor,
                               const char *why, const struct lockbox_clock *now);
/* A watched pidfd became readable: that session's process is gone. Returns false if fd is
 * not a session's. */
bool sessions_on_exit(struct sessions *s, int fd, const struct lockbox_clock *now);
/* Boot-clock ms of the next warning or SIGKILL (INT64_MAX: none). */
int64_t sessions_next_deadline(const struct sessions *s);
void sessions_run_deadlines(struct sessions *s, const struct lockbox_clock *now);
/* The sessions of a request, for `show`. */
json_object *sessions_of_request(struct sessions *s, const char *request_id);

#endif
