/* The session registry: database rows for durability, entries with pidfds for enforcement. */
#define _GNU_SOURCE
#include "sessions.h"

#include <pwd.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <syslog.h>
#include <unistd.h>

#include "duration.h"
#include "event_tag.h"
#include "random_id.h"
#include "text.h"
#include "timefmt.h"

enum { SS_INSERT, SS_SET_STATE, SS_OPEN_ROWS, SS_OF_REQUEST, SS_WARNED, SS_GET_STATE, SS_COUNT };

static const char *const session_sql[SS_COUNT] = {
    [SS_INSERT] = "INSERT INTO sessions (id, request_id, user, tenant, host, service, rhost, tty,"
                  " pid, start_time, opened_at, audit_session)"
                  " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
    [SS_SET_STATE] = "UPDATE sessions SET state = ?2, closed_at = ?3 WHERE id = ?1",
    [SS_OPEN_ROWS] = "SELECT id, request_id, user, tenant, host, tty, pid, start_time, warned,"
                     " audit_session FROM sessions WHERE state = 'open'",
    [SS_OF_REQUEST] = "SELECT id, pid, tty, service, rhost, opened_at, closed_at, state"
                      " FROM sessions WHERE request_id = ?1 ORDER BY opened_at",
    [SS_WARNED] = "UPDATE sessions SET warned = 1 WHERE id = ?1",
    [SS_GET_STATE] = "SELECT state FROM sessions WHERE id = ?1",
};

static sqlite3_stmt *statement(struct sessions *s, int which)
{
    sqlite3_stmt *st = (sqlite3_stmt *)s->statements[which];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

int sessions_init(struct sessions *s, const struct lockboxd_config *config, struct store *store,
                  struct journal *journal, char *err, size_t err_len)
{
    memset(s, 0, sizeof(*s));
    s->config = config;
    s->store = store;
    s->journal = journal;
    s->epoll_fd = -1;
    for (int i = 0; i < SS_COUNT; i++) {
        if (sqlite3_prepare_v3(store_handle(store), session_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               (sqlite3_stmt **)&s->statements[i], NULL) != SQLITE_OK) {
            snprintf(err, err_len, "sessions: %s", store_error(store));
            return -1;
        }
    }
    return 0;
}

static void entry_release(int epoll_fd, struct session_entry *e)
{
    if (e->pidfd >= 0) {
        /* Out of the epoll set first: a notification command forked meanwhile may hold the
         * pidfd, and epoll forgets it only with its last holder. */
        if (epoll_fd >= 0)
            epoll_ctl(epoll_fd, EPOLL_CTL_DEL, e->pidfd, NULL);
        close(e->pidfd);
    }
    free(e->procs);
}

void sessions_free(struct sessions *s)
{
    for (size_t i = 0; i < s->n; i++)
        entry_release(s->epoll_fd, &s->items[i]);
    free(s->items);
    for (int i = 0; i < SS_COUNT; i++)
        sqlite3_finalize((sqlite3_stmt *)s->statements[i]);
    memset(s, 0, sizeof(*s));
}

static void record(struct sessions *s, const struct session_entry *e, const char *event,
                   const char *actor, const char *detail, const struct lockbox_clock *now)
{
    char comment[256];
    snprintf(comment, sizeof(comment), "session %s pid %d%s%s%s%s", e->id, (int)e->pid,
             e->tty[0] ? " tty " : "", e->tty, detail ? ": " : "", detail ? detail : "");
    struct audit_event ev = {event, e->request_id, e->tenant, e->host, e->user, actor, NULL,
                             comment, 0};
    journal_record(s->journal, NULL, &ev, false, now->wall_ms);
}

static int set_state(struct sessions *s, const char *id, const char *state, int64_t when_ms)
{
    sqlite3_stmt *st = statement(s, SS_SET_STATE);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, when_ms);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static struct session_entry *add_entry(struct sessions *s)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct session_entry *grown = realloc(s->items, cap * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        s->items = grown;
        s->cap = cap;
    }
    struct session_entry *e = &s->items[s->n++];
    memset(e, 0, sizeof(*e));
    e->pidfd = -1;
    return e;
}

static void remove_entry(struct sessions *s, struct session_entry *e)
{
    entry_release(s->epoll_fd, e);
    *e = s->items[--s->n];
}

static void watch(struct sessions *s, struct session_entry *e)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = event_tag(EVENT_SESSION, e->pidfd)};
    if (s->epoll_fd >= 0 && epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, e->pidfd, &ev) != 0)
        syslog(LOG_ERR, "event=session.error id=%s msg=\"cannot watch pid %d\"", e->id, (int)e->pid);
}

/* Access end on the boot clock, from the request (INT64_MAX when not current). */
static int64_t access_end(struct sessions *s, const char *request_id, const struct lockbox_clock *now)
{
    struct lockbox_request req;
    if (store_get_request(s->store, request_id, &req) != 0 || !request_access_current(&req, now))
        return INT64_MAX;
    return now->boot_ms + request_ms_until_deadline(&req, now);
}

static uid_t uid_of(const char *user)
{
    struct passwd pw, *found = NULL;
    char buf[4096];
    if (getpwnam_r(user, &pw, buf, sizeof(buf), &found) != 0 || found == NULL)
        return (uid_t)-1;
    return pw.pw_uid;
}

static int insert_row(struct sessions *s, const struct session_entry *e,
                      const struct session_open_input *in, int64_t now_ms)
{
    sqlite3_stmt *st = statement(s, SS_INSERT);
    sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, e->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, e->user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, e->tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, e->host, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, in->service ? in->service : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, in->rhost ? in->rhost : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, e->tty, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, e->pid);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)e->start_time);
    sqlite3_bind_int64(st, 11, now_ms);
    sqlite3_bind_int64(st, 12, e->audit_session);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int sessions_open(struct sessions *s, const struct session_open_input *in,
                  const struct lockbox_clock *now, char id[LOCKBOX_ID_HEX_LEN + 1],
                  struct lockbox_request *req, char *err, size_t err_len)
{
    const char *tenant = in->tenant ? in->tenant : s->config->tenant;
    const char *host = in->host ? in->host : s->config->host;
    uint64_t start_time;

    /* Closes the gap between the account check and the session: access must still be current. */
    int found = store_find_current_approval(s->store, in->user, tenant, host, now, req);
    if (found != 0) {
        snprintf(err, err_len, "access for %s on %s is not current", in->user, host);
        return found > 0 ? 1 : -1;
    }
    if (process_start_time(in->pid, &start_time) != 0 || random_id(id) != 0) {
        snprintf(err, err_len, "cannot identify the session's process");
        return -1;
    }
    struct session_entry *e = add_entry(s);
    if (e == NULL)
        return -1;
    memcpy(e->id, id, LOCKBOX_ID_HEX_LEN + 1);
    memcpy(e->request_id, req->id, sizeof(e->request_id));
    snprintf(e->user, sizeof(e->user), "%s", in->user);
    snprintf(e->tenant, sizeof(e->tenant), "%s", tenant);
    snprintf(e->host, sizeof(e->host), "%s", host);
    snprintf(e->tty, sizeof(e->tty), "%s", in->tty && strncmp(in->tty, "/dev/", 5) == 0 ? in->tty : "");
    e->uid = uid_of(in->user);
    e->pid = in->pid;
    e->start_time = start_time;
    e->audit_session = process_audit_session(in->pid);
    e->access_end_boot_ms = now->boot_ms + request_ms_until_deadline(req, now);
    e->pidfd = process_open(in->pid, start_time);
    if (e->pidfd < 0 || insert_row(s, e, in, now->wall_ms) != 0) {
        snprintf(err, err_len, "cannot register the session: %s", store_error(s->store));
        remove_entry(s, e);
        return -1;
    }
    watch(s, e);
    record(s, e, "session.opened", e->user, NULL, now);
    return 0;
}

static struct session_entry *find_entry(struct sessions *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->items[i].id, id) == 0)
            return &s->items[i];
    }
    return NULL;
}

int sessions_close(struct sessions *s, const char *id, const struct lockbox_clock *now)
{
    struct session_entry *e = find_entry(s, id);
    if (e == NULL) {
        sqlite3_stmt *st = statement(s, SS_GET_STATE);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
    }
    if (e->kill_at_boot_ms > 0)
        return 0; /* being terminated: that record stands */
    set_state(s, id, "closed", now->wall_ms);
    record(s, e, "session.closed", e->user, NULL, now);
    remove_entry(s, e);
    return 0;
}

/* The notice has a moment to reach the client before the terminal goes away: once the last
 * process on a pty is gone, output still buffered in it may be dropped. */
#define NOTICE_MS 300

static void start_termination(struct sessions *s, struct session_entry *e, const char *actor,
                              const char *why, const struct lockbox_clock *now)
{
    char message[512], tty[64];

    if (e->tty[0] || process_find_tty(e->pid, e->uid, tty, sizeof(tty)) == 0) {
        snprintf(message, sizeof(message),
                 "\r\n\aLockbox: access for request %s has ended (%s). This session is being "
                 "closed.\r\n", e->request_id, why);
        tty_write(e->tty[0] ? e->tty : tty, e->uid, message);
    }
    int64_t grace_ms = s->config->session_grace_s * 1000;
    e->hup_at_boot_ms = now->boot_ms + NOTICE_MS;
    e->kill_at_boot_ms = e->hup_at_boot_ms + (grace_ms > 0 ? grace_ms : 1);
    set_state(s, e->id, "terminated", now->wall_ms);
    record(s, e, "session.terminated", actor, why, now);
}

/* SIGHUP to what runs below the session process first (the user's shell and commands): the
 * session process (sshd, su) then ends the session its own way. Whatever is left after the
 * grace gets SIGKILL. */
static void hang_up(struct session_entry *e)
{
    e->hup_at_boot_ms = 0;
    free(e->procs);
    e->procs = NULL;
    e->n_procs = 0;
    /* Only a session process that is provably still the same one is walked: a dead one's
     * pid may belong to anyone by now. */
    if (!process_alive(e->pidfd))
        return;
    e->n_procs = process_snapshot_tree(e->pid, &e->procs);
    if (e->n_procs > 1)
        process_signal_snapshot(e->procs + 1, e->n_procs - 1, SIGHUP);
    else
        process_signal_snapshot(e->procs, e->n_procs, SIGHUP);
    struct process_ident *escaped;
    size_t n = process_snapshot_audit_session(e->audit_session, &escaped);
    process_signal_snapshot(escaped, n, SIGHUP); /* what setsid() took out of the tree */
    free(escaped);
}

/* SIGKILL to what is left: the tree as it is now (children started during the grace), the
 * snapshot taken at the SIGHUP, and the whole audit session. */
static void kill_remains(struct session_entry *e)
{
    struct process_ident *procs;
    size_t n;

    if (process_alive(e->pidfd)) {
        n = process_snapshot_tree(e->pid, &procs);
        process_signal_snapshot(procs, n, SIGKILL);
        free(procs);
    }
    process_signal_snapshot(e->procs, e->n_procs, SIGKILL);
    n = process_snapshot_audit_session(e->audit_session, &procs);
    process_signal_snapshot(procs, n, SIGKILL);
    free(procs);
}

int sessions_terminate_request(struct sessions *s, const char *request_id, const char *actor,
                               const char *why, const struct lockbox_clock *now)
{
    int count = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct session_entry *e = &s->items[i];
        if (strcmp(e->request_id, request_id) == 0 && e->kill_at_boot_ms == 0) {
            start_termination(s, e, actor, why, now);
            count++;
        }
    }
    return count;
}

bool sessions_on_exit(struct sessions *s, int fd, const struct lockbox_clock *now)
{
    for (size_t i = 0; i < s->n; i++) {
        struct session_entry *e = &s->items[i];
        if (e->pidfd != fd)
            continue;
        if (e->kill_at_boot_ms > 0) {
            /* Its leader is gone; make sure nothing it left behind survives the grace. */
            kill_remains(e);
        } else {
            set_state(s, e->id, "closed", now->wall_ms);
            record(s, e, "session.closed", "lockboxd", "its process exited", now);
        }
        remove_entry(s, e);
        return true;
    }
    return false;
}

static int64_t warning_at(const struct sessions *s, const struct session_entry *e)
{
    int64_t warning_ms = s->config->session_warning_s * 1000;
    if (e->warned || warning_ms <= 0 || e->access_end_boot_ms == INT64_MAX || e->kill_at_boot_ms)
        return INT64_MAX;
    return e->access_end_boot_ms - warning_ms;
}

int64_t sessions_next_deadline(const struct sessions *s)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < s->n; i++) {
        const struct session_entry *e = &s->items[i];
        int64_t at = e->hup_at_boot_ms > 0   ? e->hup_at_boot_ms
                     : e->kill_at_boot_ms > 0 ? e->kill_at_boot_ms
                                              : warning_at(s, e);
        if (at < next)
            next = at;
    }
    return next;
}

static void warn(struct sessions *s, struct session_entry *e, const struct lockbox_clock *now)
{
    char message[512], tty[64], left[32];

    duration_format((e->access_end_boot_ms - now->boot_ms + 999) / 1000, left, sizeof(left));
    snprintf(message, sizeof(message),
             "\r\n\aLockbox: access for request %s ends in %s; this session will then be "
             "closed. Ask a %s admin for a new approval if you need longer.\r\n",
             e->request_id, left, e->tenant);
    if (e->tty[0] || process_find_tty(e->pid, e->uid, tty, sizeof(tty)) == 0)
        tty_write(e->tty[0] ? e->tty : tty, e->uid, message);
    e->warned = true;
    sqlite3_stmt *st = statement(s, SS_WARNED);
    sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
}

void sessions_run_deadlines(struct sessions *s, const struct lockbox_clock *now)
{
    for (size_t i = 0; i < s->n; i++) {
        struct session_entry *e = &s->items[i];
        if (e->hup_at_boot_ms > 0) {
            if (e->hup_at_boot_ms <= now->boot_ms)
                hang_up(e);
        } else if (e->kill_at_boot_ms > 0 && e->kill_at_boot_ms <= now->boot_ms) {
            kill_remains(e);
            e->kill_at_boot_ms = INT64_MAX; /* done; the pidfd event removes the entry */
        } else if (warning_at(s, e) <= now->boot_ms) {
            warn(s, e, now);
        }
    }
}

void sessions_attach(struct sessions *s, int epoll_fd, const struct lockbox_clock *now)
{
    sqlite3_stmt *st = statement(s, SS_OPEN_ROWS);

    s->epoll_fd = epoll_fd;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct session_entry *e = add_entry(s);
        if (e == NULL)
            break;
        snprintf(e->id, sizeof(e->id), "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(e->request_id, sizeof(e->request_id), "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(e->user, sizeof(e->user), "%s", (const char *)sqlite3_column_text(st, 2));
        snprintf(e->tenant, sizeof(e->tenant), "%s", (const char *)sqlite3_column_text(st, 3));
        snprintf(e->host, sizeof(e->host), "%s", (const char *)sqlite3_column_text(st, 4));
        snprintf(e->tty, sizeof(e->tty), "%s", (const char *)sqlite3_column_text(st, 5));
        e->pid = (pid_t)sqlite3_column_int64(st, 6);
        e->start_time = (uint64_t)sqlite3_column_int64(st, 7);
        e->warned = sqlite3_column_int(st, 8) != 0;
        e->audit_session = sqlite3_column_int64(st, 9);
        e->uid = uid_of(e->user);
        /* The same pid with another start time is another process: never touch it. */
        e->pidfd = process_open(e->pid, e->start_time);
    }
    sqlite3_reset(st);
    /* From the end: remove_entry moves the last entry into the freed slot. */
    for (size_t i = s->n; i > 0; i--) {
        struct session_entry *e = &s->items[i - 1];
        if (e->pidfd >= 0)
            continue;
        set_state(s, e->id, "closed", now->wall_ms);
        record(s, e, "session.closed", "lockboxd", "its process ended while lockboxd was down", now);
        remove_entry(s, e);
    }
    for (size_t i = 0; i < s->n; i++) {
        struct session_entry *e = &s->items[i];
        watch(s, e);
        e->access_end_boot_ms = access_end(s, e->request_id, now);
        if (e->access_end_boot_ms == INT64_MAX)
            start_termination(s, e, "lockboxd", "access ended while lockboxd was down", now);
    }
}

json_object *sessions_of_request(struct sessions *s, const char *request_id)
{
    sqlite3_stmt *st = statement(s, SS_OF_REQUEST);
    json_object *array = json_object_new_array();
    char when[TIMEFMT_LEN];

    sqlite3_bind_text(st, 1, request_id, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_object *obj = json_object_new_object();
        json_object_object_add(obj, "id", json_object_new_string((const char *)sqlite3_column_text(st, 0)));
        json_object_object_add(obj, "pid", json_object_new_int64(sqlite3_column_int64(st, 1)));
        const char *tty = (const char *)sqlite3_column_text(st, 2);
        json_object_object_add(obj, "tty", tty && tty[0] ? json_object_new_string(tty) : NULL);
        json_object_object_add(obj, "service", json_object_new_string((const char *)sqlite3_column_text(st, 3)));
        const char *rhost = (const char *)sqlite3_column_text(st, 4);
        json_object_object_add(obj, "rhost", rhost && rhost[0] ? json_object_new_string(rhost) : NULL);
        timefmt_rfc3339(sqlite3_column_int64(st, 5), when);
        json_object_object_add(obj, "opened_at", json_object_new_string(when));
        int64_t closed = sqlite3_column_int64(st, 6);
        if (closed > 0) {
            timefmt_rfc3339(closed, when);
            json_object_object_add(obj, "closed_at", json_object_new_string(when));
        } else {
            json_object_object_add(obj, "closed_at", NULL);
        }
        json_object_object_add(obj, "state", json_object_new_string((const char *)sqlite3_column_text(st, 7)));
        json_object_array_add(array, obj);
    }
    sqlite3_reset(st);
    return array;
}
