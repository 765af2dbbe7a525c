/* Readiness notification as systemd's Type=notify expects it: one datagram ("READY=1",
 * "STOPPING=1", "STATUS=...") to the socket NOTIFY_SOCKET names. Written here in a few lines
 * instead of linking libsystemd (OpenSSH did the same after the 2024 xz backdoor). */
#ifndef LOCKBOXD_READINESS_H
#define LOCKBOXD_READINESS_H
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Pure: the address a NOTIFY_SOCKET value names: an absolute path, or "@name" for the
 * abstract namespace. Returns 0 with addr and its length, or -1 when the value is unusable. */
int readiness_address(const char *value, struct sockaddr_un *addr, socklen_t *len);
/* Reads and removes NOTIFY_SOCKET (children must not talk to systemd for us). */
void readiness_init(void);
/* Sends state ("READY=1\nSTATUS=...") if systemd asked for notifications; 0 sent or not
 * asked, -1 when sending failed. */
int readiness_notify(const char *state);

#endif
