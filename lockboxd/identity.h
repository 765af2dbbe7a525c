/* Who is on the other end of the socket: SO_PEERCRED, then the passwd and group databases;
 * or, over TLS, the person or host its client certificate names (no uid, never root).
 * Any failed lookup is an error; the caller then refuses (fail closed). */
#ifndef LOCKBOXD_IDENTITY_H
#define LOCKBOXD_IDENTITY_H
#include <stddef.h>
#include <sys/types.h>

#include "lockbox_limits.h"
#include "request.h"

enum identity_kind {
    IDENTITY_LOCAL,         /* a local account (SO_PEERCRED) */
    IDENTITY_REMOTE_PERSON, /* lockbox:user/NAME over TLS */
    IDENTITY_REMOTE_HOST,   /* lockbox:host/NAME over TLS (Step 15's agents) */
};

struct identity {
    enum identity_kind kind;
    uid_t uid; /* (uid_t)-1 for remote callers */
    gid_t gid;
    pid_t pid;
    char name[LOCKBOX_NAME_MAX + 1]; /* the person (or host): what admin lists match */
    /* What records name as the actor: the name, or "lockbox:user/NAME" for a remote person. */
    char actor[LOCKBOX_NAME_MAX + 1];
    /* A remote person's candidate groups (the configuration's @group admin entries, without
     * '@'): it belongs to those whose member list names it. Not owned. */
    const char *const *remote_groups;
    size_t n_remote_groups;
    gid_t primary_gid;
    /* Group names are looked up on first use (identity_actor): most calls (the module's
     * access check, filing, waiting) never need them, and the lookups were the largest
     * share of the daemon's CPU time per call. Allocated with the identity, filled lazily,
     * so a const identity can still complete its own cache. */
    struct identity_groups *groups;
};

/* The peer's pid, uid and gid (SO_PEERCRED). Returns 0 or -1. */
struct ucred;
int identity_peer_cred(int fd, struct ucred *cred);
/* Fills id from the connected socket fd. Returns 0 or -1. */
int identity_from_socket(int fd, struct identity *id);
/* Fills id for a remote caller named by its certificate (name already validated). A remote
 * person's groups are those of groups (getgrnam) whose member list names it: with no account
 * there is no primary group or getgrouplist(), and enumerating every group (getgrent) is
 * often off for directory services. groups must outlive id. Returns 0 or -1. */
int identity_from_remote(enum identity_kind kind, const char *name, const char *const *groups,
                         size_t n_groups, struct identity *id);
/* What records name as the caller (identity.actor, else its name). */
const char *identity_recorded_name(const struct identity *id);
void identity_free(struct identity *id);
/* The pure core's view of the caller, groups included (valid while id lives). Returns 0, or
 * -1 when the group lookup fails: the caller then refuses (fail closed). */
int identity_actor(const struct identity *id, struct lockbox_actor *actor);
/* The same for read checks only: root reads every request, so its groups are not looked up
 * (the module's long-polls and ops' lists do not depend on the group database). */
int identity_reader(const struct identity *id, struct lockbox_actor *actor);
/* The uid of a local account; 0 found, -1 not (or lookup failed). */
int identity_uid_of(const char *name, uid_t *uid);
/* Does a local account with this name exist? */
int identity_user_exists(const char *name);
/* The account behind the caller's login session (its audit login uid, /proc/PID/loginuid)
 * when it is set and is not the caller's own uid: the person who su'd to the caller's
 * account. Returns 0 with its name and uid, or -1. */
int identity_login_name(const struct identity *id, char *name, size_t name_len, uid_t *uid);

#endif
