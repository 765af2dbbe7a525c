/* The session registry: database rows for durability, entries with pidfds for enforcement.
 * Enforcement (warnings, termination, leftovers) is in session_enforce.c. */
#define _GNU_SOURCE
#include "sessions_internal.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <syslog.h>
#include <unistd.h>

#include "array_grow.h"
#include "random_id.h"
#include "timefmt.h"

int session_check_update(struct sessions *s, const char *id, int rc)
{
    if (rc != 0) {
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
    (void)err;
    (void)err_len;
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
    struct audit_event ev = {event, e->request_id, e->tenant, e->host, e->user, actor,
                             NULL,  comment,       0,         NULL,    NULL};
    if (journal_record_change(s->journal, &ev, change, now->wall_ms) != JOURNAL_OK) {
        syslog(LOG_ERR, "event=session.error id=%s msg=\"cannot record %s\"", e->id, event);
        return -1;
    }
    s->changes++;
    return 0;
}

uint64_t sessions_changes(const struct sessions *s)
{
    return s->changes;
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
    int rc = c->stamp_closed ? store_session_set_state_at(c->s->store, c->id, c->state, c->now_ms)
                             : store_session_set_state(c->s->store, c->id, c->state);
    return session_check_update(c->s, c->id, rc);
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
    const struct session_entry *e = c->e;
    struct session_row row;

    memset(&row, 0, sizeof(row));
    memcpy(row.id, e->id, sizeof(row.id));
    memcpy(row.request_id, e->request_id, sizeof(row.request_id));
    snprintf(row.user, sizeof(row.user), "%s", e->user);
    snprintf(row.tenant, sizeof(row.tenant), "%s", e->tenant);
    snprintf(row.host, sizeof(row.host), "%s", e->host);
    snprintf(row.service, sizeof(row.service), "%s", c->in->service ? c->in->service : "");
    snprintf(row.rhost, sizeof(row.rhost), "%s", c->in->rhost ? c->in->rhost : "");
    snprintf(row.tty, sizeof(row.tty), "%s", e->tty);
    row.pid = e->pid;
    row.start_time = e->start_time;
    row.opened_at = c->now->wall_ms;
    row.audit_session = e->contain.audit_session;
    snprintf(row.cgroup, sizeof(row.cgroup), "%s", e->contain.cgroup);
    snprintf(row.boot_id, sizeof(row.boot_id), "%s", c->now->boot_id);
    row.contained = session_is_contained(e);
    return store_session_insert(c->s->store, &row);
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
        char state[STORE_SESSION_STATE_MAX + 1];
        return store_session_get_state(s->store, id, state); /* already closed, or none */
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

static void load_row(struct session_entry *e, const struct session_row *row)
{
    memcpy(e->id, row->id, sizeof(e->id));
    memcpy(e->request_id, row->request_id, sizeof(e->request_id));
    snprintf(e->user, sizeof(e->user), "%s", row->user);
    snprintf(e->tenant, sizeof(e->tenant), "%s", row->tenant);
    snprintf(e->host, sizeof(e->host), "%s", row->host);
    snprintf(e->tty, sizeof(e->tty), "%s", row->tty);
    e->pid = (pid_t)row->pid;
    e->start_time = row->start_time;
    e->warned = row->warned;
    e->contain.audit_session = row->audit_session;
    snprintf(e->contain.cgroup, sizeof(e->contain.cgroup), "%s", row->cgroup);
    e->uid = uid_of(e->user);
    e->access_end_boot_ms = INT64_MAX; /* until session_reattach() finds its approval */
    e->open = strcmp(row->state, "open") == 0;
}

/* What can no longer be trusted to be this login's is never signalled, and not tracked again
 * at the next start either. */
static void drop_containment(struct sessions *s, struct session_entry *e)
{
    /* A failure is logged; the next start drops it again (same test, same outcome). */
    if (session_is_contained(e))
        session_check_update(s, e->id, store_session_set_contained(s->store, e->id, false));
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
    if (store_session_set_containment(s->store, e->id, e->contain.audit_session, e->contain.cgroup,
                                      session_is_contained(e)) != 0)
        syslog(LOG_ERR, "event=session.error id=%s msg=\"cannot update the session\"", e->id);
}

struct attach {
    struct sessions *s;
    const struct lockbox_clock *now;
};

/* One live row from the database: an entry again, watched when its process is still ours. */
static int attach_row(const struct session_row *row, void *ctx)
{
    struct attach *a = ctx;
    struct sessions *s = a->s;
    const struct lockbox_clock *now = a->now;

    /* A database several lockboxd share holds other hosts' sessions too: their processes are
     * not this host's to watch or end. */
    if (strcmp(row->host, s->config->host) != 0)
        return 0;
    /* Whoever can write a shared database could add rows; never adopt init or lockboxd
     * itself as a login's process (their trees would be ended with an access). */
    if (row->pid <= 1 || row->pid == (int64_t)getpid())
        return 0;
    struct session_entry *e = add_entry(s);
    if (e == NULL)
        return 1;
    load_row(e, row);
    /* Audit session ids start again at each boot, and a cgroup path names another login
     * then: only a row of this boot keeps its containment. A row whose boot is not known
     * (from before the boot id was kept, or no boot id could be read) keeps it only while
     * its session process is provably still the one it was (pid and start time). */
    bool known_boot = row->boot_id[0] != '\0' && strcmp(row->boot_id, "unknown-boot") != 0 &&
                      strcmp(now->boot_id, "unknown-boot") != 0;
    bool same_boot = !known_boot || strcmp(row->boot_id, now->boot_id) == 0;
    /* The same pid with another start time is another process: never touch it. */
    if (e->open && same_boot)
        e->pidfd = process_open(e->pid, e->start_time);
    if (!same_boot || (!known_boot && e->pidfd < 0))
        drop_containment(s, e);
    else if (e->pidfd >= 0)
        recheck_containment(s, e);
    return 0;
}

void sessions_attach(struct sessions *s, int epoll_fd,
                     void (*read_clock)(struct lockbox_clock *now), const struct lockbox_clock *now)
{
    struct attach a = {s, now};

    s->epoll_fd = epoll_fd;
    s->read_clock = read_clock;
    store_session_live_rows(s->store, attach_row, &a);
    session_reattach(s, now);
    for (size_t i = 0; i < s->n; i++) {
        if (s->items[i].pidfd >= 0)
            watch(s, &s->items[i]);
    }
}

static int add_session_json(const struct session_row *row, void *ctx)
{
    json_object *array = ctx, *obj = json_object_new_object();
    char when[TIMEFMT_LEN];

    json_object_object_add(obj, "id", json_object_new_string(row->id));
    json_object_object_add(obj, "pid", json_object_new_int64(row->pid));
    json_object_object_add(obj, "tty", row->tty[0] ? json_object_new_string(row->tty) : NULL);
    json_object_object_add(obj, "service", json_object_new_string(row->service));
    json_object_object_add(obj, "rhost", row->rhost[0] ? json_object_new_string(row->rhost) : NULL);
    timefmt_rfc3339(row->opened_at, when);
    json_object_object_add(obj, "opened_at", json_object_new_string(when));
    if (row->closed_at > 0) {
        timefmt_rfc3339(row->closed_at, when);
        json_object_object_add(obj, "closed_at", json_object_new_string(when));
    } else {
        json_object_object_add(obj, "closed_at", NULL);
    }
    json_object_object_add(obj, "state", json_object_new_string(row->state));
    /* Closed, but what it left running still ends with the access. */
    json_object_object_add(obj, "leftovers_tracked", json_object_new_boolean(row->contained));
    json_object_array_add(array, obj);
    return 0;
}

json_object *sessions_of_request(struct sessions *s, const char *request_id)
{
    json_object *array = json_object_new_array();
    store_sessions_of_request(s->store, request_id, add_session_json, array);
    return array;
}
