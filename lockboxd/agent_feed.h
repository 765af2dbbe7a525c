/* The agent's pure core: what central's answers must look like before anything is applied,
 * which transition a mirrored request takes, and whether a login may be admitted while
 * central is out of reach. No I/O, no clock reads. */
#ifndef LOCKBOXD_AGENT_FEED_H
#define LOCKBOXD_AGENT_FEED_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config_central.h"
#include "request.h"

#define AGENT_VERSION_MAX 128 /* central's opaque feed version */
#define AGENT_KNOWN_MAX 200   /* ids the agent names in known= (central's limit) */
#define AGENT_ANSWER_MAX (8 * 1024 * 1024)

/* One feed answer, validated: every request is for our host and tenant. */
struct feed_answer {
    char version[AGENT_VERSION_MAX + 1];
    struct lockbox_request *requests;
    size_t n_requests;
};

/* Parses central's feed answer (text, len bytes) for host and tenant. Returns 0, or -1 with
 * why (nothing of it may then be applied). *identity_mismatch is set when the answer names
 * another host or tenant as ours: the certificate or the configuration is wrong. */
int feed_answer_parse(const char *text, size_t len, const char *host, const char *tenant,
                      struct feed_answer *out, bool *identity_mismatch, char *why, size_t why_len);
void feed_answer_free(struct feed_answer *answer);

/* Parses the request central answered a filing with, checked as a feed's. 0 or -1. */
int filed_answer_parse(const char *text, size_t len, const char *host, const char *tenant,
                       struct lockbox_request *out, char *why, size_t why_len);

/* What the mirror does with one request of central's answer. */
enum mirror_action {
    MIRROR_NOTHING,    /* same state (or the mirror is already past it) */
    MIRROR_INSERT,     /* new here: request.created, then its decision if it has one */
    MIRROR_TRANSITION, /* the decision central made: the event mirror_event() names */
};

/* local: the mirror's copy, NULL when it has none. */
enum mirror_action mirror_choose(const struct lockbox_request *local,
                                 const struct lockbox_request *central);
/* The audit event of moving from to to (request.approved, access.revoked...), NULL when the
 * lifecycle has no such move. */
const char *mirror_event(enum request_state from, enum request_state to);

/* May a login use the mirror's approvals now? link_up: the last poll was applied;
 * last_sync_wall_ms: when (0: never). */
bool offline_may_admit(bool link_up, enum central_offline mode, int64_t grace_s,
                       int64_t last_sync_wall_ms, int64_t now_wall_ms);

#endif
