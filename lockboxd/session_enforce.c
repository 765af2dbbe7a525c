/* Enforcement: access follows the user, tenant and host; warnings that reach a terminal;
 * termination of open sessions; the end of what closed ones left running. */
#define _GNU_SOURCE
#include "sessions_internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "duration.h"
#include "text.h"

/* The notice has a moment to reach the client before the terminal goes away: once the last
 * process on a pty is gone, output still buffered in it may be dropped. */
#define NOTICE_MS 300
/* No terminal of the session known yet (sshd allocates the pty after the session opens): look
 * again this much later. */
#define WARN_RETRY_MS 1000
#define WARN_RETRY_MAX_MS 16000
/* Processes that do not die at once (uninterruptible sleep) are signalled again this often,
 * this many times, then reported. */
#define KILL_RETRY_MS 1000
#define KILL_RETRY_MAX_MS 60000
#define KILL_ATTEMPTS 30

static bool same_login(const struct session_entry *e, const char *user, const char *tenant,
                       const char *host)
{
    return strcmp(e->user, user) == 0 && strcmp(e->tenant, tenant) == 0 &&
           strcmp(e->host, host) == 0;
}

int session_closed(struct sessions *s, struct session_entry *e, const char *actor, const char *why,
                   const struct lockbox_clock *now)
{
    /* Closed in memory whatever the database says: the login is over either way, and a row
     * left 'open' is found closed again at the next start (its process is gone then). */
    e->open = false;
    return session_change_state(s, e, "closed", true, "session.closed", actor, why, now);
}

/* Nothing of it is left (or nothing can be found): it is no longer tracked. */
static void forget(struct sessions *s, struct session_entry *e)
{
    /* A failure is logged and fails safe: the row stays tracked, and the next start looks
     * for its leftovers again. */
    if (session_is_contained(e))
        session_check_update(s, e->id, store_session_set_contained(s->store, e->id, false));
    session_remove(s, e);
}

void session_leader_gone(struct sessions *s, struct session_entry *e,
                         const struct lockbox_clock *now)
{
    (void)now;
    session_unwatch(s, e);
    if (!session_is_contained(e)) {
        forget(s, e);
        return;
    }
    /* Tracked until the access for this user and host ends, whatever one look at /proc finds
     * now: a process that forks and exits fast enough can be missing from any single look. */
    if (containment_populated(&e->contain))
        syslog(LOG_NOTICE,
               "event=session.leftovers session=%s id=%s user=%s msg=\"processes "
               "it left running end with the access\"",
               e->id, e->request_id, e->user);
}

/* SIGKILL to the whole login: the tree below its process as it is now, the snapshot taken at
 * the SIGHUP, its audit session and cgroup. Returns how many could not be ended yet. */
static size_t kill_everything(struct session_entry *e)
{
    struct process_ident *procs;
    size_t survivors = 0;

    if (e->pidfd >= 0 && process_alive(e->pidfd)) {
        size_t n = process_snapshot_tree(e->pid, &procs);
        process_signal_snapshot(procs, n, SIGKILL);
        free(procs);
    }
    process_signal_snapshot(e->procs, e->n_procs, SIGKILL);
    containment_end(&e->contain, 1, &survivors);
    return survivors;
}

/* Keeps trying to end what would not die yet (uninterruptible sleep), less and less often,
 * and says so loudly once: a process that wakes up later must still not escape. */
static void retry_or_give_up(struct sessions *s, struct session_entry *e, size_t survivors,
                             const struct lockbox_clock *now)
{
    if (survivors == 0) {
        forget(s, e);
        return;
    }
    if (++e->kill_attempts == KILL_ATTEMPTS)
        syslog(LOG_CRIT,
               "event=session.unended session=%s id=%s user=%s left=%zu msg=\"these "
               "processes would not die yet; lockboxd keeps trying, end them by hand\"",
               e->id, e->request_id, e->user, survivors);
    int64_t delay = e->kill_attempts < KILL_ATTEMPTS ? KILL_RETRY_MS : KILL_RETRY_MAX_MS;
    e->kill_at_boot_ms = now->boot_ms + delay;
}

void session_leader_gone_while_ending(struct sessions *s, struct session_entry *e,
                                      const struct lockbox_clock *now)
{
    size_t survivors = kill_everything(e);
    session_unwatch(s, e);
    e->open = false;
    retry_or_give_up(s, e, survivors, now);
}

/* Ends what the closed sessions at entries[0..n) left running, all in one go (one pass over
 * /proc a round, however many sessions a day of logins left tracked). */
static void end_leftovers(struct sessions *s, struct session_entry **entries, size_t n,
                          const char *actor, const char *why, const struct lockbox_clock *now)
{
    struct containment *cs = calloc(n ? n : 1, sizeof(*cs));
    size_t survivors = 0;
    char detail[200];

    if (cs == NULL)
        return; /* tried again at the next change of access, or the next start */
    for (size_t i = 0; i < n; i++)
        cs[i] = entries[i]->contain;
    int ended = containment_end(cs, n, &survivors);
    free(cs);
    snprintf(detail, sizeof(detail),
             "%s; ended %d process%s that %s's closed session%s left "
             "running",
             why, ended, ended == 1 ? "" : "es", entries[0]->user, n == 1 ? "" : "s");
    /* From the last: session_remove() moves the last entry into a freed slot, and entries
     * point into the same array in ascending order. */
    for (size_t i = n; i > 0; i--) {
        struct session_entry *e = entries[i - 1];
        /* closed_at stays; the leftovers end even when this cannot be recorded (logged):
         * access has ended, and failing closed is the safe way to fail. */
        if (e->kill_attempts == 0)
            session_change_state(s, e, "terminated", false, "session.terminated", actor, detail,
                                 now);
        retry_or_give_up(s, e, survivors, now);
    }
}

/* Writes text to the session's terminal: PAM_TTY when it is the session user's, else the one
 * process_find_tty() finds (su's and sudo's PAM_TTY is their caller's terminal, owned by the
 * caller, and found that way). Returns 0 with the terminal's name in tty, or -1. */
static int write_to_session_terminal(const struct session_entry *e, const char *text, char *tty,
                                     size_t tty_len)
{
    uid_t owner;

    if (e->tty[0] != '\0' && tty_write(e->tty, e->uid, text) == 0) {
        snprintf(tty, tty_len, "%s", e->tty);
        return 0;
    }
    if (process_find_tty(e->pid, e->uid, tty, tty_len, &owner) != 0)
        return -1;
    return tty_write(tty, owner, text);
}

static void start_termination(struct sessions *s, struct session_entry *e, const char *actor,
                              const char *why, const char *comment, const struct lockbox_clock *now)
{
    char tty[64];
    /* Only where a warning was due: a revoke before the warning window needs none. */
    int64_t warning_ms = s->config->session_warning_s * 1000;
    if (!e->warned && warning_ms > 0 && now->boot_ms >= e->access_end_boot_ms - warning_ms)
        syslog(LOG_NOTICE,
               "event=session.unwarned session=%s id=%s user=%s msg=\"no terminal "
               "of the session was found to warn before its access ended\"",
               e->id, e->request_id, e->user);
    {
        /* The engineer learns why from the admin's own words; they are an admin's free
         * text, so they reach the terminal escaped like everything else shown there. */
        char message[4 * LOCKBOX_TEXT_MAX + 1024], said[4 * LOCKBOX_TEXT_MAX + 8];
        int n = snprintf(message, sizeof(message),
                         "\r\n\aLockbox: access for %s on %s has ended (%s). This session is "
                         "being closed.\r\n",
                         e->user, e->host, why);
        if (comment != NULL && comment[0] != '\0' && n > 0 && (size_t)n < sizeof(message))
            snprintf(message + n, sizeof(message) - (size_t)n, "Lockbox: %s said: %s\r\n", actor,
                     text_escape_terminal(comment, said, sizeof(said)));
        write_to_session_terminal(e, message, tty, sizeof(tty));
    }
    int64_t grace_ms = s->config->session_grace_s * 1000;
    e->hup_at_boot_ms = now->boot_ms + NOTICE_MS;
    e->kill_at_boot_ms = e->hup_at_boot_ms + (grace_ms > 0 ? grace_ms : 1);
    /* Terminated even when this cannot be recorded (logged): fail closed. */
    session_change_state(s, e, "terminated", true, "session.terminated", actor, why, now);
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
    size_t n = process_snapshot_audit_session(e->contain.audit_session, &escaped);
    process_signal_snapshot(escaped, n, SIGHUP); /* what setsid() took out of the tree */
    free(escaped);
}

/* Another current approval covers the session: it lives on under that one. */
static void rebind(struct sessions *s, struct session_entry *e, const struct lockbox_request *best,
                   const struct lockbox_clock *now)
{
    int64_t end = now->boot_ms + request_ms_until_deadline(best, now);

    if (strcmp(e->request_id, best->id) != 0) {
        syslog(LOG_INFO,
               "event=session.covered session=%s id=%s was=%s user=%s msg=\"the "
               "session continues under this approval\"",
               e->id, best->id, e->request_id, e->user);
        memcpy(e->request_id, best->id, sizeof(e->request_id));
        /* A failure is logged; the next start binds it to the longest approval again. */
        session_check_update(s, e->id, store_session_rebind(s->store, e->id, e->request_id));
    }
    if (end > e->access_end_boot_ms && e->warned) {
        e->warned = false; /* warn again before the new end */
        session_check_update(s, e->id, store_session_set_warned(s->store, e->id, false));
    }
    e->access_end_boot_ms = end;
}

struct session_change sessions_access_changed(struct sessions *s, const char *user,
                                              const char *tenant, const char *host,
                                              const char *actor, const char *why,
                                              const char *comment, bool may_end,
                                              const struct lockbox_clock *now)
{
    struct session_change change;
    struct lockbox_request best;

    memset(&change, 0, sizeof(change));
    /* A failed read ends access too: fail closed. */
    enum lockbox_result found = store_find_longest_approval(s->store, user, tenant, host, now,
                                                            &best);
    bool covered = found == LOCKBOX_OK;
    change.unreadable = found == LOCKBOX_ERROR;
    if (found == LOCKBOX_ERROR && !may_end) {
        syslog(LOG_ERR,
               "event=session.error user=%s msg=\"cannot read the approvals; sessions "
               "left as they are\"",
               user);
        return change;
    }
    if (covered)
        memcpy(change.kept_by, best.id, sizeof(change.kept_by));
    struct session_entry **leftovers = calloc(s->n ? s->n : 1, sizeof(*leftovers));
    for (size_t i = 0; i < s->n; i++) {
        struct session_entry *e = &s->items[i];
        if (!same_login(e, user, tenant, host) || e->kill_at_boot_ms > 0)
            continue;
        if (covered) {
            rebind(s, e, &best, now);
            change.kept += e->open;
        } else if (e->open) {
            start_termination(s, e, actor, why, comment, now);
            change.terminated++;
        } else if (leftovers != NULL) {
            leftovers[change.leftovers_ended++] = e; /* ascending: end_leftovers relies on it */
        }
    }
    if (change.leftovers_ended > 0)
        end_leftovers(s, leftovers, (size_t)change.leftovers_ended, actor, why, now);
    free(leftovers);
    return change;
}

static int64_t warning_at(const struct sessions *s, const struct session_entry *e)
{
    int64_t warning_ms = s->config->session_warning_s * 1000;
    if (!e->open || e->warned || warning_ms <= 0 || e->access_end_boot_ms == INT64_MAX ||
        e->kill_at_boot_ms)
        return INT64_MAX;
    int64_t at = e->access_end_boot_ms - warning_ms;
    return e->warn_retry_boot_ms > at ? e->warn_retry_boot_ms : at;
}

int64_t sessions_next_deadline(const struct sessions *s)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < s->n; i++) {
        const struct session_entry *e = &s->items[i];
        int64_t at = e->hup_at_boot_ms > 0    ? e->hup_at_boot_ms
                     : e->kill_at_boot_ms > 0 ? e->kill_at_boot_ms
                                              : warning_at(s, e);
        if (at < next)
            next = at;
    }
    return next;
}

/* "warned" means a warning reached a terminal of the session: until one is known (sshd's pty
 * comes after the session opens) it is tried again. */
static void warn(struct sessions *s, struct session_entry *e, const struct lockbox_clock *now)
{
    char message[2048], tty[64], left[32], user[140], host[520];

    duration_format((e->access_end_boot_ms - now->boot_ms + 999) / 1000, left, sizeof(left));
    text_escape_terminal(e->user, user, sizeof(user));
    text_escape_terminal(e->host, host, sizeof(host));
    snprintf(message, sizeof(message),
             "\r\n\aLockbox: access for %s on %s ends in %s; this session will then be closed. "
             "A new approval for %s on %s extends it (ask a %s admin, or: lockboxctl request "
             "--reason TEXT).\r\n",
             user, host, left, user, host, e->tenant);
    if (write_to_session_terminal(e, message, tty, sizeof(tty)) != 0) {
        /* Each look walks /proc: less and less often, up to WARN_RETRY_MAX_MS apart. */
        e->warn_backoff_ms = e->warn_backoff_ms ? e->warn_backoff_ms * 2 : WARN_RETRY_MS;
        if (e->warn_backoff_ms > WARN_RETRY_MAX_MS)
            e->warn_backoff_ms = WARN_RETRY_MAX_MS;
        e->warn_retry_boot_ms = now->boot_ms + e->warn_backoff_ms;
        return;
    }
    e->warned = true;
    session_check_update(s, e->id, store_session_set_warned(s->store, e->id, true));
    syslog(LOG_INFO, "event=session.warned session=%s id=%s user=%s tty=%s left=%s", e->id,
           e->request_id, e->user, tty, left);
}

void sessions_run_deadlines(struct sessions *s, const struct lockbox_clock *now)
{
    for (size_t i = s->n; i > 0; i--) {
        struct session_entry *e = &s->items[i - 1];
        if (e->hup_at_boot_ms > 0) {
            if (e->hup_at_boot_ms <= now->boot_ms)
                hang_up(e);
        } else if (e->kill_at_boot_ms > 0 && e->kill_at_boot_ms <= now->boot_ms) {
            if (e->open) {
                kill_everything(e);
                e->kill_at_boot_ms = INT64_MAX; /* the pidfd event takes it from here */
            } else {
                end_leftovers(s, &e, 1, "lockboxd", "access ended", now);
            }
        } else if (warning_at(s, e) <= now->boot_ms) {
            warn(s, e, now);
        }
    }
}

/* Every user, tenant and host with sessions here, as sessions_access_changed() would have it
 * now. Returns how many of them could not be read. */
static int follow_every_login(struct sessions *s, const char *why, bool may_end,
                              const struct lockbox_clock *now)
{
    struct login_key {
        char user[LOCKBOX_NAME_MAX + 1], tenant[LOCKBOX_NAME_MAX + 1], host[LOCKBOX_HOST_MAX + 1];
    } *keys = calloc(s->n ? s->n : 1, sizeof(*keys));
    size_t n_keys = 0;
    int unreadable = 0;

    if (keys == NULL)
        return 1;
    for (size_t i = 0; i < s->n; i++) {
        bool seen = false;
        for (size_t k = 0; k < n_keys && !seen; k++)
            seen = same_login(&s->items[i], keys[k].user, keys[k].tenant, keys[k].host);
        if (!seen) {
            memcpy(keys[n_keys].user, s->items[i].user, sizeof(keys[n_keys].user));
            memcpy(keys[n_keys].tenant, s->items[i].tenant, sizeof(keys[n_keys].tenant));
            memcpy(keys[n_keys].host, s->items[i].host, sizeof(keys[n_keys].host));
            n_keys++;
        }
    }
    for (size_t k = 0; k < n_keys; k++)
        unreadable += sessions_access_changed(s, keys[k].user, keys[k].tenant, keys[k].host,
                                              "lockboxd", why, NULL, may_end, now)
                          .unreadable;
    free(keys);
    return unreadable;
}

void session_reattach(struct sessions *s, const struct lockbox_clock *now)
{
    for (size_t i = s->n; i > 0; i--) {
        struct session_entry *e = &s->items[i - 1];
        if (e->open && e->pidfd < 0) {
            session_closed(s, e, "lockboxd", "its process ended while lockboxd was down", now);
            session_leader_gone(s, e, now);
        }
    }
    follow_every_login(s, "access ended while lockboxd was down", true, now);
}

/* An approval that cannot be read ends nothing here (the database may be failing over: the
 * caller asks again); one that can ends what it no longer covers. */
int sessions_follow_approvals(struct sessions *s, const struct lockbox_clock *now)
{
    return follow_every_login(s, "access ended while other lockboxd's changes were not heard",
                              false, now) == 0
               ? 0
               : -1;
}
