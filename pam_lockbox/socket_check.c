/* socket_check(): lstat/stat checks of the daemon's socket and its directory. */
#include "socket_check.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lockbox_limits.h"

static enum socket_verdict check_directory(const char *path, char *err, size_t err_len)
{
    char dir[LOCKBOX_PATH_MAX + 1];
    struct stat st;
    const char *slash = strrchr(path, '/');

    if (slash == NULL || (size_t)(slash - path) >= sizeof(dir)) {
        snprintf(err, err_len, "socket path %s is not absolute", path);
        return SOCKET_UNSAFE;
    }
    size_t dir_len = slash == path ? 1 : (size_t)(slash - path);
    memcpy(dir, path, dir_len);
    dir[dir_len] = '\0';
    /* stat, not lstat: what matters is the directory the socket really lives in. */
    if (stat(dir, &st) != 0) {
        int saved = errno;
        snprintf(err, err_len, "cannot stat socket directory %s: %s", dir, strerror(saved));
        return saved == ENOENT ? SOCKET_ABSENT : SOCKET_UNSAFE;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        snprintf(err, err_len,
                 "socket directory %s is not a root-owned directory closed to group and others "
                 "(owner uid %u, mode %04o)",
                 dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        return SOCKET_UNSAFE;
    }
    return SOCKET_OK;
}

enum socket_verdict socket_check(const char *path, char *err, size_t err_len)
{
    struct stat st;
    enum socket_verdict verdict = check_directory(path, err, err_len);

    if (verdict != SOCKET_OK)
        return verdict;
    if (lstat(path, &st) != 0) {
        int saved = errno;
        snprintf(err, err_len, "cannot stat socket %s: %s", path, strerror(saved));
        return saved == ENOENT ? SOCKET_ABSENT : SOCKET_UNSAFE;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, err_len, "%s is not a socket (%s)", path,
                 S_ISLNK(st.st_mode) ? "a symbolic link" : "another kind of file");
        return SOCKET_UNSAFE;
    }
    return SOCKET_OK;
}
