/* Socket activation as systemd passes sockets (LISTEN_PID, LISTEN_FDS, descriptors from 3 on),
 * written here in a few lines instead of linking libsystemd. With it the sockets outlive a
 * restart: a login that arrives meanwhile waits in the queue for the next lockboxd. */
#ifndef LOCKBOXD_ACTIVATION_H
#define LOCKBOXD_ACTIVATION_H
#include <sys/types.h>

#define ACTIVATION_FIRST_FD 3
#define ACTIVATION_MAX_FDS 16

/* Pure: how many descriptors the variables pass to process self. 0 when they are absent or
 * meant for another process; -1 when they are malformed. */
int activation_parse(const char *listen_pid, const char *listen_fds, pid_t self);
/* Reads and removes the variables; marks the passed descriptors close-on-exec. Returns their
 * count (0: none), or -1 when the variables are malformed or a passed descriptor is not a
 * socket. Call it before opening any descriptor of one's own. */
int activation_take(void);
/* The passed descriptor that is a listening socket of this type bound to path, or -1. */
int activation_find(int count, const char *path, int type);
/* Closes the passed descriptors nobody claimed (claimed[i] for fd 3 + i). */
void activation_close_unclaimed(int count, const int *claimed_fds, int n_claimed);

#endif
