/* Who a TLS client is: its certificate, verified by lockboxd itself against [remote] client_ca
 * (and crl), names a person or a host by one URI SAN lockbox:user/NAME or lockbox:host/NAME.
 * The SAN parsing is pure (unit-tested); the verification is GnuTLS's. */
#ifndef LOCKBOXD_CLIENT_CERT_H
#define LOCKBOXD_CLIENT_CERT_H
#include <gnutls/gnutls.h>
#include <stddef.h>

#include "identity.h"
#include "lockbox_limits.h"

struct client_cert_name {
    enum identity_kind kind; /* IDENTITY_REMOTE_PERSON or IDENTITY_REMOTE_HOST */
    char name[LOCKBOX_REMOTE_NAME_MAX + 1];
};

/* Finds the one lockbox: URI among a certificate's URI SANs. Returns 0, or -1 with why (what
 * is wrong and what to fix) when there is none, more than one, or its name is not valid. */
int client_cert_parse_sans(const char *const *uris, size_t n_uris, struct client_cert_name *out,
                           char *why, size_t why_len);

/* client_ca's certificates and the optional CRL, loaded once at start. */
struct client_trust;
struct client_trust *client_trust_load(const char *ca_path, const char *crl_path, char *err,
                                       size_t err_len);
void client_trust_free(struct client_trust *trust);

/* Verifies the session's client certificate now (signature chain to client_ca, dates,
 * revocation, client-auth key purpose if the certificate states any) and names its caller.
 * Returns 0, or -1 with why (the certificate_refused message). */
int client_trust_verify(const struct client_trust *trust, gnutls_session_t session,
                        struct client_cert_name *out, char *why, size_t why_len);

#endif
