/* Peer identity from SO_PEERCRED and NSS. */
#define _GNU_SOURCE
#include "identity.h"

#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "text.h"

struct identity_groups {
    bool resolved;
    bool failed;
    char **names; /* LOCKBOX_GROUPS_MAX slots, allocated when the groups are looked up */
    unsigned n;
};

static int add_group_name(struct identity_groups *groups, gid_t gid)
{
    struct group grp, *found = NULL;
    char buf[16384];

    if (getgrgid_r(gid, &grp, buf, sizeof(buf), &found) != 0 || found == NULL)
        return -1;
    if (groups->n >= LOCKBOX_GROUPS_MAX)
        return 0;
    groups->names[groups->n] = strdup(grp.gr_name);
    if (groups->names[groups->n] == NULL)
        return -1;
    groups->n++;
    return 0;
}

static void drop_group_names(struct identity_groups *groups)
{
    for (unsigned i = 0; i < groups->n; i++)
        free(groups->names[i]);
    groups->n = 0;
    free(groups->names);
    groups->names = NULL;
}

static bool names_member(char *const *members, const char *name)
{
    for (char *const *m = members; m != NULL && *m != NULL; m++) {
        if (strcmp(*m, name) == 0)
            return true;
    }
    return false;
}

/* A remote person has no account, so no primary group and no getgrouplist(): of the groups
 * the configuration names, it is in those whose member list (gr_mem) names it. A group that
 * does not exist has no members; a failed lookup is an error (fail closed). */
static int resolve_remote_groups(struct identity_groups *groups, const struct identity *id)
{
    for (size_t i = 0; i < id->n_remote_groups && groups->n < LOCKBOX_GROUPS_MAX; i++) {
        struct group grp, *found = NULL;
        char buf[16384];
        int rc = getgrnam_r(id->remote_groups[i], &grp, buf, sizeof(buf), &found);
        if (rc != 0)
            return -1;
        if (found == NULL || !names_member(grp.gr_mem, id->name))
            continue;
        groups->names[groups->n] = strdup(grp.gr_name);
        if (groups->names[groups->n] == NULL)
            return -1;
        groups->n++;
    }
    return 0;
}

static int resolve_groups(const struct identity *id)
{
    struct identity_groups *groups = id->groups;
    gid_t gids[LOCKBOX_GROUPS_MAX];
    int n_gids = LOCKBOX_GROUPS_MAX;

    if (groups->resolved)
        return groups->failed ? -1 : 0;
    groups->resolved = true;
    groups->names = calloc(LOCKBOX_GROUPS_MAX, sizeof(*groups->names));
    if (groups->names != NULL && id->kind != IDENTITY_LOCAL) {
        if (resolve_remote_groups(groups, id) != 0) {
            drop_group_names(groups);
            groups->failed = true;
            return -1;
        }
        return 0;
    }
    if (groups->names == NULL || getgrouplist(id->name, id->primary_gid, gids, &n_gids) < 0) {
        groups->failed = true;
        return -1;
    }
    for (int i = 0; i < n_gids; i++) {
        if (add_group_name(groups, gids[i]) != 0) {
            drop_group_names(groups);
            groups->failed = true;
            return -1;
        }
    }
    return 0;
}

int identity_peer_cred(int fd, struct ucred *cred)
{
    socklen_t len = sizeof(*cred);
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) == 0 && len == sizeof(*cred) ? 0
                                                                                            : -1;
}

int identity_from_socket(int fd, struct identity *id)
{
    struct ucred cred;
    struct passwd pw, *found = NULL;
    char buf[16384];

    memset(id, 0, sizeof(*id));
    if (identity_peer_cred(fd, &cred) != 0)
        return -1;
    id->uid = cred.uid;
    id->gid = cred.gid;
    id->pid = cred.pid;
    if (getpwuid_r(cred.uid, &pw, buf, sizeof(buf), &found) != 0 || found == NULL ||
        !text_is_name(pw.pw_name, LOCKBOX_NAME_MAX))
        return -1;
    snprintf(id->name, sizeof(id->name), "%s", pw.pw_name);
    snprintf(id->actor, sizeof(id->actor), "%s", pw.pw_name);
    id->primary_gid = pw.pw_gid;
    id->groups = calloc(1, sizeof(*id->groups));
    return id->groups != NULL ? 0 : -1;
}

int identity_from_remote(enum identity_kind kind, const char *name, const char *const *groups,
                         size_t n_groups, struct identity *id)
{
    memset(id, 0, sizeof(*id));
    if (kind == IDENTITY_LOCAL || strlen(name) > LOCKBOX_REMOTE_NAME_MAX)
        return -1;
    id->kind = kind;
    id->uid = (uid_t)-1;
    id->gid = (gid_t)-1;
    id->primary_gid = (gid_t)-1;
    id->remote_groups = groups;
    id->n_remote_groups = n_groups;
    snprintf(id->name, sizeof(id->name), "%s", name);
    snprintf(id->actor, sizeof(id->actor), "%s%s",
             kind == IDENTITY_REMOTE_PERSON ? LOCKBOX_REMOTE_USER_PREFIX
                                            : LOCKBOX_REMOTE_HOST_PREFIX,
             name);
    id->groups = calloc(1, sizeof(*id->groups));
    return id->groups != NULL ? 0 : -1;
}

const char *identity_recorded_name(const struct identity *id)
{
    return id->actor[0] != '\0' ? id->actor : id->name;
}

void identity_free(struct identity *id)
{
    if (id->groups != NULL) {
        drop_group_names(id->groups);
        free(id->groups);
        id->groups = NULL;
    }
}

int identity_actor(const struct identity *id, struct lockbox_actor *actor)
{
    if (id->groups == NULL || resolve_groups(id) != 0)
        return -1;
    *actor = (struct lockbox_actor){id->uid, id->name, (const char *const *)id->groups->names,
                                    id->groups->n};
    return 0;
}

int identity_reader(const struct identity *id, struct lockbox_actor *actor)
{
    if (id->uid == 0) {
        *actor = (struct lockbox_actor){0, id->name, NULL, 0};
        return 0;
    }
    return identity_actor(id, actor);
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

int identity_login_name(const struct identity *id, char *name, size_t name_len, uid_t *uid)
{
    char path[64], buf[32];
    struct passwd pw, *found = NULL;
    char pwbuf[16384];

    if (id->kind != IDENTITY_LOCAL)
        return -1; /* no process behind a remote caller */
    snprintf(path, sizeof(path), "/proc/%d/loginuid", (int)id->pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    unsigned long long login_uid = strtoull(buf, NULL, 10);
    if (login_uid >= 0xffffffffULL || (uid_t)login_uid == id->uid)
        return -1;
    if (getpwuid_r((uid_t)login_uid, &pw, pwbuf, sizeof(pwbuf), &found) != 0 || found == NULL ||
        !text_is_name(pw.pw_name, LOCKBOX_NAME_MAX) || strlen(pw.pw_name) >= name_len)
        return -1;
    memcpy(name, pw.pw_name, strlen(pw.pw_name) + 1);
    *uid = (uid_t)login_uid;
    return 0;
}

int identity_user_exists(const char *name)
{
    struct passwd pw, *found = NULL;
    char buf[16384];

    return getpwnam_r(name, &pw, buf, sizeof(buf), &found) == 0 && found != NULL;
}
