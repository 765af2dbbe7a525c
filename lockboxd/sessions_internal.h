/* What sessions.c (the registry) and session_enforce.c (warnings, termination, leftovers)
 * share; nothing outside the two includes this. */
#ifndef LOCKBOXD_SESSIONS_INTERNAL_H
#define LOCKBOXD_SESSIONS_INTERNAL_H
#include "sessions.h"

/* Logs a failed update of session id's row (rc from a store_session_* call). Returns 0 when
 * rc is 0, else -1. */
int session_check_update(struct sessions *s, const char *id, int rc);
/* A session's state changes only here: its row gets state (and closed_at = now when
 * stamp_closed) and its audit record `event` in one transaction (journal_record_change()).
 * Returns 0, or -1 (logged) when neither the row nor the record changed. */
int session_change_state(struct sessions *s, const struct session_entry *e, const char *state,
                         bool stamp_closed, const char *event, const char *actor,
                         const char *detail, const struct lockbox_clock *now);
struct session_entry *session_find(struct sessions *s, const char *id);
/* Removes e (the last entry moves into its slot). */
void session_remove(struct sessions *s, struct session_entry *e);
/* Stops watching e's session process. */
void session_unwatch(struct sessions *s, struct session_entry *e);
/* Can its processes be found again after it closed (audit session or cgroup)? */
bool session_is_contained(const struct session_entry *e);

/* session_enforce.c */
/* The login closed: recorded; its process is still watched until it exits. Returns 0, or
 * -1 (logged) when the row and record could not be committed (it is closed in memory). */
int session_closed(struct sessions *s, struct session_entry *e, const char *actor, const char *why,
                   const struct lockbox_clock *now);
/* The session process is gone: keep the entry while it left processes behind, else drop it. */
void session_leader_gone(struct sessions *s, struct session_entry *e,
                         const struct lockbox_clock *now);
/* The session process of a session being terminated is gone: end what is left of it. */
void session_leader_gone_while_ending(struct sessions *s, struct session_entry *e,
                                      const struct lockbox_clock *now);
/* After loading the rows at start-up: what ended while lockboxd was down, and the access of
 * every user, tenant and host with sessions, as sessions_access_changed() would. */
void session_reattach(struct sessions *s, const struct lockbox_clock *now);

#endif
