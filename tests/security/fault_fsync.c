/* Fault injection for tests/security/test_faults.py, preloaded into lockboxd: while the file
 * named by LOCKBOX_FAULT_CONTROL exists and holds a path fragment, fsync() and fdatasync() of
 * any descriptor whose path contains that fragment fail with EIO, as a dying disk would. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int should_fail(int fd)
{
    const char *control = getenv("LOCKBOX_FAULT_CONTROL");
    char fragment[256], link[64], path[4096];

    if (control == NULL)
        return 0;
    int cfd = open(control, O_RDONLY | O_CLOEXEC);
    if (cfd < 0)
        return 0;
    ssize_t n = read(cfd, fragment, sizeof(fragment) - 1);
    close(cfd);
    if (n <= 0)
        return 0;
    fragment[n] = '\0';
    fragment[strcspn(fragment, "\n")] = '\0';
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, path, sizeof(path) - 1);
    if (len <= 0)
        return 0;
    path[len] = '\0';
    return fragment[0] != '\0' && strstr(path, fragment) != NULL;
}

int fsync(int fd)
{
    static int (*real)(int);
    if (should_fail(fd)) {
        errno = EIO;
        return -1;
    }
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    return real(fd);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (should_fail(fd)) {
        errno = EIO;
        return -1;
    }
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    return real(fd);
}
