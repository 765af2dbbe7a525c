/* The Unix sockets lockboxd listens on when systemd did not pass them: bound with their
 * final mode (no window in which the socket is more open than it will be). */
#ifndef LOCKBOXD_LISTEN_SOCKET_H
#define LOCKBOXD_LISTEN_SOCKET_H
#include <stddef.h>
#include <sys/types.h>

/* Binds path (replacing a stale socket, never another kind of file) as a listening socket of
 * type (SOCK_STREAM, SOCK_SEQPACKET) with the given mode, non-blocking and close-on-exec.
 * Returns the descriptor, or -1 with err. */
int listen_socket_bind(const char *path, int type, mode_t mode, char *err, size_t err_len);

#endif
