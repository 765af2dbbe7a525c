/* What http.c and http_tls.c share: MHD's callbacks (both listeners run the same ones) and
 * the per-caller accounting. Not for the rest of lockboxd. */
#ifndef LOCKBOXD_HTTP_INTERNAL_H
#define LOCKBOXD_HTTP_INTERNAL_H
#include <stdarg.h>

#include "http.h"

void http_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
enum MHD_Result http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_size, void **con_cls);
void http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                       enum MHD_RequestTerminationCode why);
void http_on_connection(void *cls, struct MHD_Connection *conn, void **context,
                        enum MHD_ConnectionNotificationCode code);

/* The accounting entry of a local uid (remote "") or a certificate identity (uid -1). */
struct uid_calls *http_caller_entry(struct http_server *server, uid_t uid, const char *remote,
                                    bool create);
void http_forget_if_unused(struct http_server *server, struct uid_calls *entry);
/* Queues obj at once (never held: it reports nothing) and closes the connection after it. */
enum MHD_Result http_reply_and_close(struct call *call, unsigned status, json_object *obj);

/* The TLS listener's side (http_tls.c). */
/* Connection start and end: keeps the connection's certificate verdict and whether it counts
 * against its identity's open connections. */
void http_tls_on_connection(struct http_server *server, struct MHD_Connection *conn, void **context,
                            enum MHD_ConnectionNotificationCode code);
/* Identifies a call by the connection's client certificate, counting the connection against
 * its identity on its first call. Returns true, or false with *refusal sent. */
bool http_tls_identify(struct http_server *server, struct call *call, enum MHD_Result *refusal);
/* A call on a TLS connection was answered: its deadline for the next request starts. */
void http_tls_call_done(struct MHD_Connection *conn);
/* At most once a second: shuts down TLS connections that have not delivered a whole request
 * within the timeout. http_tls_sweep_due_ms(): when it is next due (-1: no connections). */
void http_tls_sweep(struct http_server *server);
int64_t http_tls_sweep_due_ms(const struct http_server *server);
/* Frees what http_start_remote() loaded (nothing on the Unix socket's server). */
void http_tls_free(struct http_server *server);

#endif
