/* Where sshd runs the module, the client's TCP connection is a descriptor of the very process
 * that waits (sshd's privileged monitor, and the PAM child it forks for keyboard-interactive),
 * while the network child that talks to the client is another process. A waiting login
 * watches that descriptor for the client hanging up, so a client that gives up releases its
 * wait at once instead of holding a MaxStartups slot until wait= ends. */
#ifndef PAM_LOCKBOX_CLIENT_WATCH_H
#define PAM_LOCKBOX_CLIENT_WATCH_H

#define CLIENT_WATCH_MAX 2

/* Fills fds with this process's connected TCP sockets whose peer address is rhost (an IP
 * address as sshd sets PAM_RHOST with UseDNS no, its default). Reads nothing from them.
 * Returns 1 when exactly one matches, else 0 (nothing to watch: su, sudo, a host name in
 * rhost, or several connections from that address). */
int client_watch_find(const char *rhost, int fds[CLIENT_WATCH_MAX]);

#endif
