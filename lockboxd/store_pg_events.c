/* store_events.h on PostgreSQL: a connection of its own, never in a transaction, that LISTENs
 * on PG_CHANNEL and holds the session-level mirror lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "store_events.h"
#include "store_pg_internal.h"

/* pg_try_advisory_lock key of the audit-file mirror ("lbxa"). */
#define MIRROR_LOCK "1818391649"

struct store_events {
    struct pg_store pg; /* the connection, its error text */
    char dsn[LOCKBOX_DSN_MAX];
    char instance[PG_INSTANCE_LEN + 1];
    bool mirror_held;
};

static int listen_now(struct store_events *ev)
{
    ev->mirror_held = false;
    if (pg_command(&ev->pg, "LISTEN " PG_CHANNEL, 0, NULL) != 0)
        return -1;
    return PQsetnonblocking(ev->pg.conn, 1) == 0 ? 0 : -1;
}

struct store_events *store_events_open(const struct store_config *config, char *err, size_t err_len)
{
    err[0] = '\0';
    if (config->backend == NULL || strcmp(config->backend, "postgresql") != 0)
        return NULL;
    struct store_events *ev = calloc(1, sizeof(*ev));
    if (ev == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    snprintf(ev->dsn, sizeof(ev->dsn), "%s", config->dsn ? config->dsn : "");
    snprintf(ev->instance, sizeof(ev->instance), "%s", config->instance ? config->instance : "");
    ev->pg.conn = pg_connect(ev->dsn);
    if (PQstatus(ev->pg.conn) != CONNECTION_OK || listen_now(ev) != 0) {
        snprintf(err, err_len, "cannot listen for other lockboxd's changes: %s",
                 PQerrorMessage(ev->pg.conn));
        for (char *c = err; *c; c++)
            if (*c == '\n')
                *c = ' ';
        store_events_close(ev);
        return NULL;
    }
    return ev;
}

void store_events_close(struct store_events *events)
{
    if (events == NULL)
        return;
    PQfinish(events->pg.conn);
    free(events);
}

int store_events_fd(const struct store_events *events)
{
    return PQstatus(events->pg.conn) == CONNECTION_OK ? PQsocket(events->pg.conn) : -1;
}

/* "INSTANCE:ID": the id, or NULL for this lockboxd's own change or a payload not ours. */
static const char *foreign_id(const struct store_events *ev, const char *payload)
{
    const char *colon = strchr(payload, ':');
    if (colon == NULL || strlen(colon + 1) != LOCKBOX_ID_HEX_LEN ||
        strspn(colon + 1, "0123456789abcdef") != LOCKBOX_ID_HEX_LEN)
        return NULL;
    if ((size_t)(colon - payload) == strlen(ev->instance) &&
        strncmp(payload, ev->instance, strlen(ev->instance)) == 0)
        return NULL;
    return colon + 1;
}

/* Anyone who may connect to the database may NOTIFY on the channel (no privilege guards
 * it), and each id costs a read of the store in the daemon's one loop. So one drain reads at
 * most this many different ids; beyond that the caller reads everything again once, which
 * costs what this lockboxd holds, not what was sent. */
#define DRAIN_IDS_MAX 64

static bool seen_before(char (*ids)[LOCKBOX_ID_HEX_LEN + 1], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

int store_events_drain(struct store_events *events, store_changed_fn fn, void *ctx)
{
    char ids[DRAIN_IDS_MAX][LOCKBOX_ID_HEX_LEN + 1];
    size_t n = 0;
    bool too_many = false;
    PGnotify *note;

    if (PQconsumeInput(events->pg.conn) == 0 || PQstatus(events->pg.conn) != CONNECTION_OK) {
        events->mirror_held = false;
        return -1;
    }
    /* Collected first, so that the store is read only when the batch is small. */
    while ((note = PQnotifies(events->pg.conn)) != NULL) {
        const char *id = foreign_id(events, note->extra);
        if (id != NULL && strcmp(note->relname, PG_CHANNEL) == 0 && !seen_before(ids, n, id)) {
            if (n < DRAIN_IDS_MAX)
                memcpy(ids[n++], id, LOCKBOX_ID_HEX_LEN + 1);
            else
                too_many = true;
        }
        PQfreemem(note);
    }
    if (too_many)
        return 1;
    for (size_t i = 0; i < n; i++)
        fn(ctx, ids[i]);
    return 0;
}

int store_events_reconnect(struct store_events *events)
{
    events->mirror_held = false;
    PQfinish(events->pg.conn);
    events->pg.conn = pg_connect(events->dsn);
    if (PQstatus(events->pg.conn) != CONNECTION_OK)
        return -1;
    return listen_now(events);
}

bool store_events_mirror_lock(struct store_events *events)
{
    if (PQstatus(events->pg.conn) != CONNECTION_OK) {
        events->mirror_held = false;
        return false;
    }
    if (events->mirror_held)
        return true;
    /* The connection is non-blocking for the listener; this one query blocks briefly. */
    PQsetnonblocking(events->pg.conn, 0);
    PGresult *res = pg_query(&events->pg, "SELECT pg_try_advisory_lock(" MIRROR_LOCK ")", 0, NULL);
    PQsetnonblocking(events->pg.conn, 1);
    events->mirror_held = res != NULL && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return events->mirror_held;
}
