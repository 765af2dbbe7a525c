/* Peer identity from SO_PEERCRED and NSS. */
#define _GNU_SOURCE
#include "identity.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "text.h"

static int add_group_name(struct identity *id, gid_t gid)
{
    struct group grp, *found = NULL;
    char buf[16384];

    if (getgrgid_r(gid, &grp, buf, sizeof(buf), &found) != 0 || found == NULL)
        return -1;
    if (id->n_groups >= LOCKBOX_GROUPS_MAX)
        return 0;
    id->group_names[id->n_groups] = strdup(grp.gr_name);
    if (id->group_names[id->n_groups] == NULL)
        return -1;
    id->n_groups++;
    return 0;
}

int identity_from_socket(int fd, struct identity *id)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    struct passwd pw, *found = NULL;
    char buf[16384];
    gid_t groups[LOCKBOX_GROUPS_MAX];
    int n_groups = LOCKBOX_GROUPS_MAX;

    memset(id, 0, sizeof(*id));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred))
        return -1;
    id->uid = cred.uid;
    id->gid = cred.gid;
    id->pid = cred.pid;
    if (getpwuid_r(cred.uid, &pw, buf, sizeof(buf), &found) != 0 || found == NULL ||
        !text_is_name(pw.pw_name, LOCKBOX_NAME_MAX))
        return -1;
    snprintf(id->name, sizeof(id->name), "%s", pw.pw_name);
    if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n_groups) < 0)
        return -1;
    for (int i = 0; i < n_groups; i++) {
        if (add_group_name(id, groups[i]) != 0) {
            identity_free(id);
            return -1;
        }
    }
    return 0;
}

void identity_free(struct identity *id)
{
    for (unsigned i = 0; i < id->n_groups; i++)
        free(id->group_names[i]);
    id->n_groups = 0;
}

struct lockbox_actor identity_actor(const struct identity *id)
{
    struct lockbox_actor actor = {id->uid, id->name, (const char *const *)id->group_names,
                                  id->n_groups};
    return actor;
}

int identity_uid_of(const char *name, uid_t *uid)
{
    struct passwd pw, *found = NULL;
    char buf[16384];

    if (getpwnam_r(name, &pw, buf, sizeof(buf), &found) != 0 || found == NULL)
        return -1;
    *uid = pw.pw_uid;
    return 0;
}

int identity_user_exists(const char *name)
{
    struct passwd pw, *found = NULL;
    char buf[16384];

    return getpwnam_r(name, &pw, buf, sizeof(buf), &found) == 0 && found != NULL;
}
