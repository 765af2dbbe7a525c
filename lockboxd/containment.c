/* Audit sessions and session cgroups: finding, testing, ending. */
#define _GNU_SOURCE
#include "containment.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "process.h"

#define STOP_ROUNDS 64
#define KILL_ROUNDS 32
#define STABLE_ROUNDS 3

int containment_parse_cgroup_line(const char *line, uid_t uid, char *path, size_t path_len)
{
    char expected[96];

    if (strncmp(line, "0::/", 4) != 0)
        return -1;
    const char *cg = line + 3;
    size_t len = strcspn(cg, "\n");
    /* Only the scope logind makes for a login of this very user: any other cgroup holds other
     * people's processes (a service's, the caller's session), or is one the user made in a
     * subtree delegated to them and could move processes out of. */
    int prefix = snprintf(expected, sizeof(expected), "/user.slice/user-%u.slice/session-",
                          (unsigned)uid);
    if (prefix < 0 || len <= (size_t)prefix + strlen(".scope") || len >= path_len ||
        strncmp(cg, expected, (size_t)prefix) != 0 || strncmp(cg + len - 6, ".scope", 6) != 0)
        return -1;
    for (const char *p = cg + prefix; p < cg + len - 6; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            return -1;
    }
    memcpy(path, cg, len);
    path[len] = '\0';
    return 0;
}

/* The cgroup2 mount point, from /proc/self/mountinfo ("" when there is none, or when it is
 * not the hierarchy's root, as inside a container that sees only part of it). */
static void unified_mount(char *out, size_t out_len)
{
    char line[1024];
    FILE *f = fopen("/proc/self/mountinfo", "re");

    out[0] = '\0';
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        char root[512], mount_point[512], *sep = strstr(line, " - cgroup2 ");
        if (sep != NULL && sscanf(line, "%*s %*s %*s %511s %511s", root, mount_point) == 2) {
            if (strcmp(root, "/") == 0)
                snprintf(out, out_len, "%s", mount_point);
            break;
        }
    }
    fclose(f);
}

static void cgroup_of(pid_t pid, uid_t uid, char *out, size_t out_len)
{
    char path[64], line[1024], scope[CONTAINMENT_CGROUP_MAX], mount_point[512];

    out[0] = '\0';
    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (containment_parse_cgroup_line(line, uid, scope, sizeof(scope)) == 0) {
            unified_mount(mount_point, sizeof(mount_point));
            if (mount_point[0] != '\0')
                snprintf(out, out_len, "%s%s", mount_point, scope);
            break;
        }
    }
    fclose(f);
}

/* The audit login uid of pid (/proc/PID/loginuid), or (uid_t)-1. */
static uid_t login_uid_of(pid_t pid)
{
    char path[64], buf[32];

    snprintf(path, sizeof(path), "/proc/%d/loginuid", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return (uid_t)-1;
    buf[n] = '\0';
    return (uid_t)strtoul(buf, NULL, 10);
}

void containment_of(pid_t pid, uid_t uid, struct containment *c)
{
    char parent_cgroup[CONTAINMENT_CGROUP_MAX];
    pid_t parent = process_parent(pid);

    /* Only what began with this login. su and sudo without pam_loginuid run in their caller's
     * audit session, and ending it would end the caller's whole login: a session pam_loginuid
     * opened for this login carries this user's login uid, and its parent is outside it. */
    c->audit_session = process_audit_session(pid);
    if (parent <= 0 || process_audit_session(parent) == c->audit_session ||
        login_uid_of(pid) != uid)
        c->audit_session = -1;
    cgroup_of(pid, uid, c->cgroup, sizeof(c->cgroup));
    cgroup_of(parent, uid, parent_cgroup, sizeof(parent_cgroup));
    if (parent <= 0 || strcmp(parent_cgroup, c->cgroup) == 0)
        c->cgroup[0] = '\0';
}

static int write_cgroup_file(const char *cgroup, const char *name, const char *value)
{
    char path[CONTAINMENT_CGROUP_MAX + 32];

    snprintf(path, sizeof(path), "%s/%s", cgroup, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, value, strlen(value));
    close(fd);
    return n == (ssize_t)strlen(value) ? 0 : -1;
}

static bool cgroup_populated(const char *cgroup)
{
    char path[CONTAINMENT_CGROUP_MAX + 32], buf[256];

    snprintf(path, sizeof(path), "%s/cgroup.events", cgroup);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false; /* gone: systemd removed the scope once it emptied */
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return strstr(buf, "populated 1") != NULL;
}

bool containment_populated(const struct containment *c)
{
    if (c->cgroup[0] != '\0' && cgroup_populated(c->cgroup))
        return true;
    if (c->audit_session < 0)
        return false;
    struct process_ident *procs;
    size_t n = process_snapshot_audit_session(c->audit_session, &procs);
    free(procs);
    return n > 0;
}

static bool contains(const struct process_ident *set, size_t n, const struct process_ident *p)
{
    for (size_t i = 0; i < n; i++) {
        if (set[i].pid == p->pid && set[i].start_time == p->start_time)
            return true;
    }
    return false;
}

/* Every process of any of the audit sessions, in one pass over /proc. */
static size_t snapshot_sessions(const struct containment *cs, size_t n, struct process_ident **out)
{
    int64_t ids[64];
    size_t n_ids = 0;

    for (size_t i = 0; i < n && n_ids < sizeof(ids) / sizeof(ids[0]); i++) {
        if (cs[i].audit_session >= 0)
            ids[n_ids++] = cs[i].audit_session;
    }
    if (n_ids == 0) {
        *out = NULL;
        return 0;
    }
    return process_snapshot_audit_sessions(ids, n_ids, out);
}

/* SIGSTOP rounds until STABLE_ROUNDS rounds in a row find no process the earlier ones had
 * not stopped: then none of them can fork any more. One round alone proves nothing: /proc is
 * not read atomically, and a process that forks and exits fast enough (a pid hopper) can be
 * missing from a round. */
static void stop_sessions(const struct containment *cs, size_t n)
{
    struct process_ident *seen = NULL;
    size_t n_seen = 0;
    int stable = 0;

    for (int round = 0; round < STOP_ROUNDS && stable < STABLE_ROUNDS; round++) {
        struct process_ident *now;
        size_t count = snapshot_sessions(cs, n, &now);
        bool new_one = false;
        for (size_t i = 0; i < count && !new_one; i++)
            new_one = !contains(seen, n_seen, &now[i]);
        process_signal_snapshot(now, count, SIGSTOP);
        stable = new_one ? 0 : stable + 1;
        if (new_one) {
            free(seen);
            seen = now;
            n_seen = count;
        } else {
            free(now);
        }
    }
    free(seen);
}

/* The processes of a cgroup (cgroup.procs), each SIGKILLed when kill_them is set. */
static int cgroup_procs(const char *cgroup, bool kill_them)
{
    char path[CONTAINMENT_CGROUP_MAX + 32];
    int count = 0, pid;

    snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0;
    while (fscanf(f, "%d", &pid) == 1) {
        /* Frozen, these cannot exit and hand their pid to someone else meanwhile. */
        if (pid > 1 && pid != getpid() && (!kill_them || kill(pid, SIGKILL) == 0))
            count++;
    }
    fclose(f);
    return count;
}

static int kill_cgroups(const struct containment *cs, size_t n)
{
    int killed = 0;

    for (size_t i = 0; i < n; i++) {
        const char *cgroup = cs[i].cgroup;
        if (cgroup[0] == '\0' || !cgroup_populated(cgroup))
            continue;
        killed += cgroup_procs(cgroup, false);
        if (write_cgroup_file(cgroup, "cgroup.kill", "1") != 0 &&
            write_cgroup_file(cgroup, "cgroup.freeze", "1") == 0) {
            /* No cgroup.kill (a kernel before 5.14): frozen, then killed one by one; SIGKILL
             * reaches frozen tasks. */
            cgroup_procs(cgroup, true);
        }
    }
    return killed;
}

int containment_end(const struct containment *cs, size_t n, size_t *survivors)
{
    int killed = kill_cgroups(cs, n), empty = 0;
    size_t left = 0;

    stop_sessions(cs, n);
    for (int round = 0; round < KILL_ROUNDS && empty < STABLE_ROUNDS; round++) {
        struct process_ident *procs;
        left = snapshot_sessions(cs, n, &procs);
        int signalled = process_signal_snapshot(procs, left, SIGKILL);
        free(procs);
        if (round == 0)
            killed += signalled; /* later rounds mostly see the same ones dying */
        empty = left == 0 ? empty + 1 : 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (cs[i].cgroup[0] != '\0' && cgroup_populated(cs[i].cgroup))
            left++;
    }
    *survivors = left;
    return killed;
}
