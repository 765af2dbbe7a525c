/* /proc, pidfds and terminals for session enforcement. */
#define _GNU_SOURCE
#include "process.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "array_grow.h"

/* Reads /proc/PID/NAME into buf (NUL-terminated). Returns 0 or -1. */
static int read_proc_file(pid_t pid, const char *name, char *buf, size_t size)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* A thread group whose first thread has exited shows as a zombie while its other threads
 * run on (pthread_exit() in main): it is alive as long as any of its tasks is not a zombie. */
static bool threads_live(pid_t pid)
{
    char path[64], stat_path[384], buf[512];
    struct dirent *de;
    bool live = false;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *dir = opendir(path);
    if (dir == NULL)
        return false;
    while (!live && (de = readdir(dir)) != NULL) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        snprintf(stat_path, sizeof(stat_path), "%s/%s/stat", path, de->d_name);
        int fd = open(stat_path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
        if (fd >= 0)
            close(fd);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        const char *paren = strrchr(buf, ')');
        live = paren != NULL && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
    }
    closedir(dir);
    return live;
}

/* Reads ppid (field 4) and start time (field 22) from /proc/PID/stat; -1 for a zombie. The
 * command name (field 2) may hold spaces and parentheses, so fields are counted after its
 * last ')'. */
static int read_stat(pid_t pid, pid_t *ppid, uint64_t *start_time)
{
    char buf[1024];

    if (read_proc_file(pid, "stat", buf, sizeof(buf)) != 0)
        return -1;
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    p += 2; /* field 3, the state */
    if ((*p == 'Z' || *p == 'X') && !threads_live(pid))
        return -1; /* a zombie is no longer a process to signal or wait for */
    unsigned long long fields[20];
    int field = 3;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok && field <= 22;
         tok = strtok_r(NULL, " ", &save), field++) {
        if (field >= 4)
            fields[field - 4] = strtoull(tok, NULL, 10);
    }
    if (field <= 22)
        return -1;
    if (ppid)
        *ppid = (pid_t)fields[0];
    if (start_time)
        *start_time = fields[18];
    return 0;
}

int process_start_time(pid_t pid, uint64_t *start_time)
{
    return pid > 0 ? read_stat(pid, NULL, start_time) : -1;
}

int process_open(pid_t pid, uint64_t start_time)
{
    uint64_t now_start;

    if (pid <= 1)
        return -1;
    int pidfd = pidfd_open(pid, 0);
    if (pidfd < 0)
        return -1;
    /* Checked after the pidfd exists: from here on the pidfd pins this very process. */
    if (read_stat(pid, NULL, &now_start) != 0 || now_start != start_time) {
        close(pidfd);
        return -1;
    }
    return pidfd;
}

struct proc_entry {
    pid_t pid, ppid;
};

static size_t list_processes(struct proc_entry **out)
{
    DIR *dir = opendir("/proc");
    struct dirent *de;
    size_t n = 0, cap = 0;

    *out = NULL;
    if (dir == NULL)
        return 0;
    while ((de = readdir(dir)) != NULL) {
        pid_t pid = (pid_t)atoi(de->d_name), ppid;
        if (pid <= 0 || read_stat(pid, &ppid, NULL) != 0)
            continue;
        if (array_grow(out, &cap, n + 1, sizeof(**out), 256) != 0)
            break;
        (*out)[n++] = (struct proc_entry){pid, ppid};
    }
    closedir(dir);
    return n;
}

/* Fills tree with pid and all its descendants (breadth first); returns the count. */
static size_t descendants(pid_t pid, pid_t **tree)
{
    struct proc_entry *procs;
    size_t n = list_processes(&procs), count = 1;

    *tree = malloc((n + 1) * sizeof(pid_t));
    if (*tree == NULL) {
        free(procs);
        return 0;
    }
    (*tree)[0] = pid;
    for (size_t head = 0; head < count; head++) {
        for (size_t i = 0; i < n; i++) {
            if (procs[i].ppid == (*tree)[head] && procs[i].pid != pid)
                (*tree)[count++] = procs[i].pid;
        }
    }
    free(procs);
    return count;
}

size_t process_snapshot_tree(pid_t pid, struct process_ident **out)
{
    pid_t *tree;
    size_t count = descendants(pid, &tree), kept = 0;

    *out = calloc(count ? count : 1, sizeof(**out));
    if (*out == NULL) {
        free(tree);
        return 0;
    }
    for (size_t i = 0; i < count; i++) {
        uint64_t start;
        if (read_stat(tree[i], NULL, &start) == 0)
            (*out)[kept++] = (struct process_ident){tree[i], start};
    }
    free(tree);
    return kept;
}

int process_signal_snapshot(const struct process_ident *procs, size_t n, int sig)
{
    int signalled = 0;

    /* Deepest first: children are signalled while their parents still hold them. */
    for (size_t i = n; i > 0; i--) {
        int pidfd = process_open(procs[i - 1].pid, procs[i - 1].start_time);
        if (pidfd < 0)
            continue;
        if (pidfd_send_signal(pidfd, sig, NULL, 0) == 0)
            signalled++;
        close(pidfd);
    }
    return signalled;
}

pid_t process_parent(pid_t pid)
{
    pid_t ppid;
    return read_stat(pid, &ppid, NULL) == 0 ? ppid : -1;
}

int64_t process_audit_session(pid_t pid)
{
    char buf[32];

    if (read_proc_file(pid, "sessionid", buf, sizeof(buf)) != 0)
        return -1;
    unsigned long long id = strtoull(buf, NULL, 10);
    return id >= 0xffffffffULL ? -1 : (int64_t)id; /* (u32)-1: unset */
}

size_t process_snapshot_audit_sessions(const int64_t *ids, size_t n_ids, struct process_ident **out)
{
    struct proc_entry *procs;
    size_t n = list_processes(&procs), kept = 0;

    *out = calloc(n ? n : 1, sizeof(**out));
    if (*out == NULL) {
        free(procs);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t start;
        int64_t session = procs[i].pid != getpid() ? process_audit_session(procs[i].pid) : -1;
        bool wanted = false;
        for (size_t k = 0; k < n_ids && !wanted && session >= 0; k++)
            wanted = ids[k] == session;
        /* Never lockboxd itself, whatever session it was started from. */
        if (wanted && read_stat(procs[i].pid, NULL, &start) == 0)
            (*out)[kept++] = (struct process_ident){procs[i].pid, start};
    }
    free(procs);
    return kept;
}

size_t process_snapshot_audit_session(int64_t audit_session, struct process_ident **out)
{
    if (audit_session < 0) {
        *out = calloc(1, sizeof(**out));
        return 0;
    }
    return process_snapshot_audit_sessions(&audit_session, 1, out);
}

int process_alive(int pidfd)
{
    return pidfd >= 0 && pidfd_send_signal(pidfd, 0, NULL, 0) == 0;
}

/* The controlling terminal of pid from /proc/PID/stat (field 7), which needs no ptrace
 * access (its descriptors would): a /dev/pts/N or /dev/ttyN path, or -1 for none. */
static int controlling_tty(pid_t pid, char *out, size_t out_len, uid_t *owner)
{
    char buf[1024], path[32];
    struct stat st;

    if (read_proc_file(pid, "stat", buf, sizeof(buf)) != 0)
        return -1;
    char *p = strrchr(buf, ')');
    long tty_nr = 0;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %ld", &tty_nr) != 1 || tty_nr <= 0)
        return -1;
    unsigned major = ((unsigned long)tty_nr >> 8) & 0xfff;
    unsigned minor = ((unsigned long)tty_nr & 0xff) | (((unsigned long)tty_nr >> 12) & 0xfff00);
    if (major >= 136 && major <= 143)
        snprintf(path, sizeof(path), "/dev/pts/%u", (major - 136) * 256 + minor);
    else if (major == 4 && minor < 64)
        snprintf(path, sizeof(path), "/dev/tty%u", minor);
    else
        return -1;
    if (stat(path, &st) != 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(major, minor) ||
        strlen(path) >= out_len)
        return -1;
    memcpy(out, path, strlen(path) + 1);
    *owner = st.st_uid;
    return 0;
}

/* The terminal on pid's stdin (/proc/PID/fd/0): needs ptrace access to pid, which the
 * shipped unit does not grant, so it is only the fallback. */
static int stdin_tty(pid_t pid, char *out, size_t out_len, uid_t *owner)
{
    char link[64], target[128];
    struct stat st;

    snprintf(link, sizeof(link), "/proc/%d/fd/0", (int)pid);
    ssize_t len = readlink(link, target, sizeof(target) - 1);
    if (len <= 0)
        return -1;
    target[len] = '\0';
    if ((strncmp(target, "/dev/pts/", 9) != 0 && strncmp(target, "/dev/tty", 8) != 0) ||
        stat(target, &st) != 0 || !S_ISCHR(st.st_mode) || strlen(target) >= out_len)
        return -1;
    memcpy(out, target, strlen(target) + 1);
    *owner = st.st_uid;
    return 0;
}

/* The real uid of pid (/proc/PID/status), or (uid_t)-1. */
static uid_t real_uid_of(pid_t pid)
{
    char buf[2048];
    unsigned long uid;

    if (read_proc_file(pid, "status", buf, sizeof(buf)) != 0)
        return (uid_t)-1;
    const char *line = strstr(buf, "\nUid:");
    return line != NULL && sscanf(line + 5, "%lu", &uid) == 1 ? (uid_t)uid : (uid_t)-1;
}

int process_find_tty(pid_t pid, uid_t uid, char *out, size_t out_len, uid_t *owner)
{
    pid_t *tree;
    int rc = -1;

    /* The session process's own terminal is the session's when it belongs to the session's
     * user or to whoever ran the session process (su's real uid: the caller, the person in
     * that session). Never another owner: a private devpts instance has its own numbering,
     * and its /dev/pts/N would name someone else's terminal on the host. */
    if (controlling_tty(pid, out, out_len, owner) == 0 &&
        (*owner == uid || *owner == real_uid_of(pid)))
        return 0;
    size_t count = descendants(pid, &tree);
    /* Below it (and on stdin), only a terminal of the session's user: never a stranger's. */
    for (size_t i = 0; i < count && rc != 0; i++) {
        if (controlling_tty(tree[i], out, out_len, owner) == 0 && *owner == uid)
            rc = 0;
    }
    for (size_t i = 0; i < count && rc != 0; i++) {
        if (stdin_tty(tree[i], out, out_len, owner) == 0 && *owner == uid)
            rc = 0;
    }
    free(tree);
    return rc;
}

int tty_write(const char *tty, uid_t uid, const char *text)
{
    struct stat st;

    if (strncmp(tty, "/dev/pts/", 9) != 0 && strncmp(tty, "/dev/tty", 8) != 0)
        return -1;
    int fd = open(tty, O_WRONLY | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    /* Only the terminal that was found, with the owner it had: never someone else's that
     * took the name meanwhile. */
    int rc = -1;
    if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_uid == uid &&
        write(fd, text, strlen(text)) == (ssize_t)strlen(text))
        rc = 0;
    close(fd);
    return rc;
}
