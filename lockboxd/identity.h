/* Who is on the other end of the socket: SO_PEERCRED, then the passwd and group databases.
 * Any failed lookup is an error; the caller then refuses (fail closed). */
#ifndef LOCKBOXD_IDENTITY_H
#define LOCKBOXD_IDENTITY_H
#include <sys/types.h>

#include "limits.h"
#include "request.h"

struct identity {
    uid_t uid;
    gid_t gid;
    pid_t pid;
    char name[LOCKBOX_NAME_MAX + 1];
    char *group_names[LOCKBOX_GROUPS_MAX];
    unsigned n_groups;
};

/* Fills id from the connected socket fd. Returns 0 or -1. */
int identity_from_socket(int fd, struct identity *id);
void identity_free(struct identity *id);
/* The pure core's view of the caller (valid while id lives). */
struct lockbox_actor identity_actor(const struct identity *id);
/* The uid of a local account; 0 found, -1 not (or lookup failed). */
int identity_uid_of(const char *name, uid_t *uid);
/* Does a local account with this name exist? */
int identity_user_exists(const char *name);

#endif
