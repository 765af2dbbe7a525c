/* The session registry: database rows for durability, entries with pidfds for enforcement.
 * Enforcement (warnings, termination, leftovers) is in session_enforce.c. */
#define _GNU_SOURCE
#include "sessions_internal.h"

#include <pwd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <syslog.h>
#include <unistd.h>

#include "array_grow.h"
#include "random_id.h"
#include "timefmt.h"

static const char *const session_sql[SS_COUNT] = {
    [SS_INSERT] = "INSERT INTO sessions (id, request_id, user, tenant, host, service, rhost, tty,"
                  " pid, start_time, opened_at, audit_session, cgroup, boot_id, contained)"
                  " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
    [SS_SET_STATE] = "UPDATE sessions SET state = ?2, closed_at = ?3 WHERE id = ?1",
    [SS_LIVE_ROWS] = "SELECT id, request_id, user, tenant, host, tty, pid, start_time, warned,"
                     " audit_session, cgroup, boot_id, state FROM sessions"
                     " WHERE state = 'open' OR contained = 1",
    [SS_OF_REQUEST] = "SELECT id, pid, tty, service, rhost, opened_at, closed_at, state, contained"
                      " FROM sessions WHERE request_id = ?1 ORDER BY opened_at",
    [SS_WARNED] = "UPDATE sessions SET warned = ?2 WHERE id = ?1",
    [SS_GET_STATE] = "SELECT state FROM sessions WHERE id = ?1",
    [SS_REBIND] = "UPDATE sessions SET request_id = ?2 WHERE id = ?1",
    [SS_CONTAINED] = "UPDATE sessions SET contained = ?2 WHERE id = ?1",
    [SS_STATE_ONLY] = "UPDATE sessions SET state = ?2 WHERE id = ?1",
    [SS_CONTAINMENT] = "UPDATE sessions SET audit_session = ?2, cgroup = ?3, contained = ?4"
                       " WHERE id = ?1",
};

sqlite3_stmt *session_statement(struct sessions *s, enum session_statement which)
{
    sqlite3_stmt *st = (sqlite3_stmt *)s->statements[which];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

int session_update(struct sessions *s, enum session_statement which, const char *id,
                   const char *text, int64_t number)
{
    sqlite3_stmt *st = session_statement(s, which);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (text != NULL)
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 2, number);
    if (which == SS_SET_STATE)
        sqlite3_bind_int64(st, 3, number);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        syslog(LOG_ERR, "event=session.error id=%s msg=\"cannot update the session: %s\"", id,
               store_error(s->store));
        return -1;
    }
    return 0;
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

/* A session's pidfd in the epoll set. Found again by the session's id: entries move in their
 * array, a watch does not. */
struct session_watch {
    struct event_source source;
    struct sessions *sessions;
    char id[LOCKBOX_ID_HEX_LEN + 1];
};

void session_unwatch(struct sessions *s, struct session_entry *e)
{
    if (e->pidfd >= 0) {
        /* Out of the epoll set first: a notification command forked meanwhile may hold the
         * pidfd, and epoll forgets it only with its last holder. */
        if (e->watch != NULL)
            epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, e->pidfd, NULL);
        close(e->pidfd);
    }
    /* Freed from its own event at most (event_source.h): only a session's exit unwatches it
     * while the loop handles a batch. */
    free(e->watch);
    e->watch = NULL;
    e->pidfd = -1;
}

static void entry_release(struct sessions *s, struct session_entry *e)
{
    session_unwatch(s, e);
    free(e->procs);
    e->procs = NULL;
    e->n_procs = 0;
}

void sessions_free(struct sessions *s)
{
    for (size_t i = 0; i < s->n; i++)
        entry_release(s, &s->items[i]);
    free(s->items);
    for (int i = 0; i < SS_COUNT; i++)
        sqlite3_finalize((sqlite3_stmt *)s->statements[i]);
    memset(s, 0, sizeof(*s));
}

/* Records event for e in the same transaction as change (NULL: none). Returns 0, or -1
 * (logged): then nothing of it was committed. */
static int record_with_change(struct sessions *s, const struct session_entry *e, const char *event,
                              const char *actor, const char *detail,
                              const struct journal_change *change, const struct lockbox_clock *now)
{
    char comment[256];
    snprintf(comment, sizeof(comment), "session %s pid %d%s%s%s%s", e->id, (int)e->pid,
             e->tty[0] ? " tty " : "", e->tty, detail ? ": " : "", detail ? detail : "");
    struct audit_event ev = {event, e->request_id, e->tenant, e->host, e->user,
                             actor, NULL,          comment,   0,       NULL};
    if (journal_record_change(s->journal, &ev, change, now->wall_ms) != JOURNAL_OK) {
        syslog(LOG_ERR, "event=session.error id=%s msg=\"cannot record %s\"", e->id, event);
        return -1;
    }
    return 0;
}

struct state_change {
    struct sessions *s;
    const char *id, *state;
    bool stamp_closed;
    int64_t now_ms;
};

static int apply_state(void *ctx)
{
    const struct state_change *c = ctx;
    if (c->stamp_closed)
        return session_update(c->s, SS_SET_STATE, c->id, c->state, c->now_ms);
    return session_update(c->s, SS_STATE_ONLY, c->id, c->state, 0);
}

int session_change_state(struct sessions *s, const struct session_entry *e, const char *state,
                         bool stamp_closed, const char *event, const char *actor,
                         const char *detail, const struct lockbox_clock *now)
{
    struct state_change c = {s, e->id, state, stamp_closed, now->wall_ms};
    struct journal_change change = {apply_state, &c};
    return record_with_change(s, e, event, actor, detail, &change, now);
}

static struct session_entry *add_entry(struct sessions *s)
{
    if (array_grow(&s->items, &s->cap, s->n + 1, sizeof(*s->items), 16) != 0)
        return NULL;
    struct session_entry *e = &s->items[s->n++];
    memset(e, 0, sizeof(*e));
    e->pidfd = -1;
    return e;
}

void session_remove(struct sessions *s, struct session_entry *e)
{
    entry_release(s, e);
    *e = s->items[--s->n];
}

static void on_exit_event(struct event_source *source, uint32_t events);

static void watch(struct sessions *s, struct session_entry *e)
{
    if (s->epoll_fd < 0)
        return;
    struct session_watch *w = calloc(1, sizeof(*w));
    if (w != NULL) {
        w->source.on_event = on_exit_event;
        w->sessions = s;
        memcpy(w->id, e->id, sizeof(w->id));
    }
    if (w == NULL || event_source_watch(s->epoll_fd, e->pidfd, EPOLLIN, &w->source) != 0) {
        syslog(LOG_ERR, "event=session.error id=%s msg=\"cannot watch pid %d\"", e->id,
               (int)e->pid);
        free(w);
        return;
    }
    e->watch = w;
}

static uid_t uid_of(const char *user)
{
    struct passwd pw, *found = NULL;
    char buf[4096];
    if (getpwnam_r(user, &pw, buf, sizeof(buf), &found) != 0 || found == NULL)
        return (uid_t)-1;
    return pw.pw_uid;
}

struct row_insert {
    struct sessions *s;
    const struct session_entry *e;
    const struct session_open_input *in;
    const struct lockbox_clock *now;
};

static int apply_insert(void *ctx)
{
    const struct row_insert *c = ctx;
    struct sessions *s = c->s;
    const struct session_entry *e = c->e;
    const struct session_open_input *in = c->in;
    const struct lockbox_clock *now = c->now;
    sqlite3_stmt *st = session_statement(s, SS_INSERT);
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
    sqlite3_bind_int64(st, 11, now->wall_ms);
    sqlite3_bind_int64(st, 12, e->contain.audit_session);
    sqlite3_bind_text(st, 13, e->contain.cgroup, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 14, now->boot_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 15, session_is_contained(e) ? 1 : 0);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

bool session_is_contained(const struct session_entry *e)
{
    return e->contain.audit_session >= 0 || e->contain.cgroup[0] != '\0';
}

enum lockbox_result sessions_open(struct sessions *s, const struct session_open_input *in,
                                  const struct lockbox_clock *now, char id[LOCKBOX_ID_HEX_LEN + 1],
                                  struct lockbox_request *req, char *err, size_t err_len)
{
    const char *tenant = in->tenant ? in->tenant : s->config->tenant;
    const char *host = in->host ? in->host : s->config->host;
    uint64_t start_time;

    /* Closes the gap between the account check and the session: access must still be
     * current. The session lives as long as any approval for this user and host does. */
    enum lockbox_result found = store_find_longest_approval(s->store, in->user, tenant, host, now,
                                                            req);
    if (found != LOCKBOX_OK) {
        snprintf(err, err_len, "access for %s on %s is not current", in->user, host);
        return found;
    }
    if (process_start_time(in->pid, &start_time) != 0 || random_id(id) != 0) {
        snprintf(err, err_len, "cannot identify the session's process");
        return LOCKBOX_ERROR;
    }
    struct session_entry *e = add_entry(s);
    if (e == NULL)
        return LOCKBOX_ERROR;
    memcpy(e->id, id, LOCKBOX_ID_HEX_LEN + 1);
    memcpy(e->request_id, req->id, sizeof(e->request_id));
    snprintf(e->user, sizeof(e->user), "%s", in->user);
    snprintf(e->tenant, sizeof(e->tenant), "%s", tenant);
    snprintf(e->host, sizeof(e->host), "%s", host);
    snprintf(e->tty, sizeof(e->tty), "%s",
             in->tty && strncmp(in->tty, "/dev/", 5) == 0 ? in->tty : "");
    e->uid = uid_of(in->user);
    e->pid = in->pid;
    e->start_time = start_time;
    e->open = true;
    containment_of(in->pid, e->uid, &e->contain);
    e->access_end_boot_ms = now->boot_ms + request_ms_until_deadline(req, now);
    e->pidfd = process_open(in->pid, start_time);
    if (e->pidfd < 0) {
        snprintf(err, err_len, "cannot watch the session's process");
        session_remove(s, e);
        return LOCKBOX_ERROR;
    }
    /* The row and session.opened in one transaction: a session is either registered and
     * audited, or neither (and the login is told so). */
    struct row_insert row = {s, e, in, now};
    struct journal_change change = {apply_insert, &row};
    if (record_with_change(s, e, "session.opened", e->user,
                           session_is_contained(e) ? NULL
                                                   : "no audit session or cgroup: what it leaves "
                                                     "behind after logout is not tracked (add "
                                                     "pam_loginuid)",
                           &change, now) != 0) {
        snprintf(err, err_len, "cannot register the session: %s", store_error(s->store));
        session_remove(s, e);
        return LOCKBOX_ERROR;
    }
    watch(s, e);
    return LOCKBOX_OK;
}

struct session_entry *session_find(struct sessions *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->items[i].id, id) == 0)
            return &s->items[i];
    }
    return NULL;
}

enum lockbox_result sessions_close(struct sessions *s, const char *id,
                                   const struct lockbox_clock *now)
{
    struct session_entry *e = session_find(s, id);
    if (e == NULL || !e->open) {
        sqlite3_stmt *st = session_statement(s, SS_GET_STATE);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_ROW)
            return LOCKBOX_OK;
        return rc == SQLITE_DONE ? LOCKBOX_NOT_FOUND : LOCKBOX_ERROR;
    }
    if (e->kill_at_boot_ms > 0)
        return LOCKBOX_OK; /* being terminated: that record stands */
    return session_closed(s, e, e->user, NULL, now) == 0 ? LOCKBOX_OK : LOCKBOX_ERROR;
}

/* A watched pidfd became readable: that session's process is gone. */
static void on_exit_event(struct event_source *source, uint32_t events)
{
    struct session_watch *w = EVENT_SOURCE_OWNER(source, struct session_watch, source);
    struct sessions *s = w->sessions;
    struct lockbox_clock now;
    (void)events;

    struct session_entry *e = session_find(s, w->id); /* w may be freed from here on */
    if (e == NULL)
        return;
    s->read_clock(&now);
    if (e->kill_at_boot_ms > 0) {
        session_leader_gone_while_ending(s, e, &now);
    } else {
        /* A failure is logged; the process is gone whatever the row says. */
        if (e->open)
            session_closed(s, e, "lockboxd", "its process exited", &now);
        session_leader_gone(s, e, &now);
    }
}

static void load_row(struct session_entry *e, sqlite3_stmt *st)
{
    snprintf(e->id, sizeof(e->id), "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(e->request_id, sizeof(e->request_id), "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(e->user, sizeof(e->user), "%s", (const char *)sqlite3_column_text(st, 2));
    snprintf(e->tenant, sizeof(e->tenant), "%s", (const char *)sqlite3_column_text(st, 3));
    snprintf(e->host, sizeof(e->host), "%s", (const char *)sqlite3_column_text(st, 4));
    snprintf(e->tty, sizeof(e->tty), "%s", (const char *)sqlite3_column_text(st, 5));
    e->pid = (pid_t)sqlite3_column_int64(st, 6);
    e->start_time = (uint64_t)sqlite3_column_int64(st, 7);
    e->warned = sqlite3_column_int(st, 8) != 0;
    e->contain.audit_session = sqlite3_column_int64(st, 9);
    snprintf(e->contain.cgroup, sizeof(e->contain.cgroup), "%s",
             (const char *)sqlite3_column_text(st, 10));
    e->uid = uid_of(e->user);
    e->access_end_boot_ms = INT64_MAX; /* until session_reattach() finds its approval */
    e->open = strcmp((const char *)sqlite3_column_text(st, 12), "open") == 0;
}

/* What can no longer be trusted to be this login's is never signalled, and not tracked again
 * at the next start either. */
static void drop_containment(struct sessions *s, struct session_entry *e)
{
    /* A failure is logged; the next start drops it again (same test, same outcome). */
    if (session_is_contained(e))
        session_update(s, SS_CONTAINED, e->id, NULL, 0);
    memset(&e->contain, 0, sizeof(e->contain));
    e->contain.audit_session = -1;
}

/* A live session recorded by an earlier lockboxd: keep only what today's rules take as this
 * login's (an earlier version took su's caller's audit session as su's own). */
static void recheck_containment(struct sessions *s, struct session_entry *e)
{
    struct containment fresh;

    containment_of(e->pid, e->uid, &fresh);
    if (fresh.audit_session == e->contain.audit_session &&
        strcmp(fresh.cgroup, e->contain.cgroup) == 0)
        return;
    if (fresh.audit_session != e->contain.audit_session)
        e->contain.audit_session = -1;
    if (strcmp(fresh.cgroup, e->contain.cgroup) != 0)
        e->contain.cgroup[0] = '\0';
    sqlite3_stmt *st = session_statement(s, SS_CONTAINMENT);
    sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, e->contain.audit_session);
    sqlite3_bind_text(st, 3, e->contain.cgroup, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, session_is_contained(e) ? 1 : 0);
    if (sqlite3_step(st) != SQLITE_DONE)
        syslog(LOG_ERR, "event=session.error id=%s msg=\"cannot update the session\"", e->id);
    sqlite3_reset(st);
}

void sessions_attach(struct sessions *s, int epoll_fd,
                     void (*read_clock)(struct lockbox_clock *now), const struct lockbox_clock *now)
{
    sqlite3_stmt *st = session_statement(s, SS_LIVE_ROWS);

    s->epoll_fd = epoll_fd;
    s->read_clock = read_clock;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct session_entry *e = add_entry(s);
        if (e == NULL)
            break;
        load_row(e, st);
        const char *boot_id = (const char *)sqlite3_column_text(st, 11);
        /* Audit session ids start again at each boot, and a cgroup path names another login
         * then: only a row of this boot keeps its containment. A row whose boot is not known
         * (from before the boot id was kept, or no boot id could be read) keeps it only while
         * its session process is provably still the one it was (pid and start time). */
        bool known_boot = boot_id[0] != '\0' && strcmp(boot_id, "unknown-boot") != 0 &&
                          strcmp(now->boot_id, "unknown-boot") != 0;
        bool same_boot = !known_boot || strcmp(boot_id, now->boot_id) == 0;
        /* The same pid with another start time is another process: never touch it. */
        if (e->open && same_boot)
            e->pidfd = process_open(e->pid, e->start_time);
        if (!same_boot || (!known_boot && e->pidfd < 0))
            drop_containment(s, e);
        else if (e->pidfd >= 0)
            recheck_containment(s, e);
    }
    sqlite3_reset(st);
    session_reattach(s, now);
    for (size_t i = 0; i < s->n; i++) {
        if (s->items[i].pidfd >= 0)
            watch(s, &s->items[i]);
    }
}

json_object *sessions_of_request(struct sessions *s, const char *request_id)
{
    sqlite3_stmt *st = session_statement(s, SS_OF_REQUEST);
    json_object *array = json_object_new_array();
    char when[TIMEFMT_LEN];

    sqlite3_bind_text(st, 1, request_id, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_object *obj = json_object_new_object();
        json_object_object_add(obj, "id",
                               json_object_new_string((const char *)sqlite3_column_text(st, 0)));
        json_object_object_add(obj, "pid", json_object_new_int64(sqlite3_column_int64(st, 1)));
        const char *tty = (const char *)sqlite3_column_text(st, 2);
        json_object_object_add(obj, "tty", tty && tty[0] ? json_object_new_string(tty) : NULL);
        json_object_object_add(obj, "service",
                               json_object_new_string((const char *)sqlite3_column_text(st, 3)));
        const char *rhost = (const char *)sqlite3_column_text(st, 4);
        json_object_object_add(obj, "rhost",
                               rhost && rhost[0] ? json_object_new_string(rhost) : NULL);
        timefmt_rfc3339(sqlite3_column_int64(st, 5), when);
        json_object_object_add(obj, "opened_at", json_object_new_string(when));
        int64_t closed = sqlite3_column_int64(st, 6);
        if (closed > 0) {
            timefmt_rfc3339(closed, when);
            json_object_object_add(obj, "closed_at", json_object_new_string(when));
        } else {
            json_object_object_add(obj, "closed_at", NULL);
        }
        json_object_object_add(obj, "state",
                               json_object_new_string((const char *)sqlite3_column_text(st, 7)));
        /* Closed, but what it left running still ends with the access. */
        json_object_object_add(obj, "leftovers_tracked",
                               json_object_new_boolean(sqlite3_column_int(st, 8) != 0));
        json_object_array_add(array, obj);
    }
    sqlite3_reset(st);
    return array;
}
