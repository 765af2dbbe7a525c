/* The one-line errors of remote calls: each TLS failure says what to fix. */
#ifndef LOCKBOXCTL_REMOTE_ERRORS_H
#define LOCKBOXCTL_REMOTE_ERRORS_H
#include "client.h"
#include "remote.h"

/* Prints why a remote call got no usable answer (reply->failure); returns CLI_FAIL. */
int remote_report_failure(const struct remote_target *target, const struct lockbox_reply *reply);

/* Prints lockboxd's refusal of our certificate (403 certificate_refused) with its message;
 * returns CLI_FAIL. */
int remote_report_certificate_refused(const struct remote_target *target,
                                      const struct lockbox_reply *reply);

#endif
