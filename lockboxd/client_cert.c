/* Client certificates of the TLS listener: GnuTLS verifies them against our own trust list
 * (never the system store: only [remote] client_ca speaks for Lockbox callers), and one URI
 * SAN names the caller. */
#define _GNU_SOURCE
#include "client_cert.h"

#include <gnutls/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "text.h"

#define SCHEME "lockbox:"
#define SANS_MAX 32       /* URI SANs of one certificate we look at */
#define SAN_BYTES_MAX 512 /* one URI SAN */
#define CHAIN_MAX 8       /* certificates a client may send */

#define NO_IDENTITY                                                                                \
    "the client certificate names no Lockbox identity (add a URI SAN lockbox:user/NAME or "        \
    "lockbox:host/NAME)"

struct client_trust {
    gnutls_x509_trust_list_t list;
};

static bool has_scheme(const char *uri)
{
    /* URI schemes are case-insensitive: "LOCKBOX:" counts as one, and is then refused. */
    return strncasecmp(uri, SCHEME, strlen(SCHEME)) == 0;
}

static int parse_one(const char *uri, struct client_cert_name *out)
{
    static const char user[] = LOCKBOX_REMOTE_USER_PREFIX, host[] = LOCKBOX_REMOTE_HOST_PREFIX;
    const char *name;

    if (strncmp(uri, user, sizeof(user) - 1) == 0) {
        out->kind = IDENTITY_REMOTE_PERSON;
        name = uri + sizeof(user) - 1;
        if (!text_is_name(name, LOCKBOX_REMOTE_NAME_MAX))
            return -1;
    } else if (strncmp(uri, host, sizeof(host) - 1) == 0) {
        out->kind = IDENTITY_REMOTE_HOST;
        name = uri + sizeof(host) - 1;
        if (!text_is_host(name, LOCKBOX_REMOTE_NAME_MAX))
            return -1;
    } else {
        return -1;
    }
    snprintf(out->name, sizeof(out->name), "%s", name);
    return 0;
}

int client_cert_parse_sans(const char *const *uris, size_t n_uris, struct client_cert_name *out,
                           char *why, size_t why_len)
{
    const char *found = NULL;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n_uris; i++) {
        if (!has_scheme(uris[i]))
            continue;
        if (found != NULL) {
            snprintf(why, why_len,
                     "the client certificate names more than one Lockbox identity (keep exactly "
                     "one URI SAN lockbox:user/NAME or lockbox:host/NAME)");
            return -1;
        }
        found = uris[i];
    }
    if (found == NULL) {
        snprintf(why, why_len, "%s", NO_IDENTITY);
        return -1;
    }
    if (parse_one(found, out) != 0) {
        char shown[160];
        snprintf(why, why_len,
                 "the client certificate's identity '%s' is not lockbox:user/NAME or "
                 "lockbox:host/NAME with a valid name of at most %d bytes",
                 text_escape_log(found, shown, sizeof(shown)), LOCKBOX_REMOTE_NAME_MAX);
        return -1;
    }
    return 0;
}

struct client_trust *client_trust_load(const char *ca_path, const char *crl_path, char *err,
                                       size_t err_len)
{
    struct client_trust *trust = calloc(1, sizeof(*trust));

    if (trust == NULL || gnutls_x509_trust_list_init(&trust->list, 0) < 0) {
        free(trust);
        snprintf(err, err_len, "cannot set up the client certificate trust list");
        return NULL;
    }
    int n = gnutls_x509_trust_list_add_trust_file(trust->list, ca_path, NULL, GNUTLS_X509_FMT_PEM,
                                                  0, 0);
    if (n <= 0) {
        snprintf(err, err_len, "%s: no PEM CA certificate could be read (client_ca)", ca_path);
        goto fail;
    }
    if (crl_path != NULL && crl_path[0] != '\0') {
        /* Only a CRL the CA signed counts: GNUTLS_TL_VERIFY_CRL drops any other. */
        n = gnutls_x509_trust_list_add_trust_file(trust->list, NULL, crl_path, GNUTLS_X509_FMT_PEM,
                                                  GNUTLS_TL_VERIFY_CRL, 0);
        if (n <= 0) {
            snprintf(err, err_len, "%s: no PEM CRL signed by client_ca could be read (crl)",
                     crl_path);
            goto fail;
        }
    }
    return trust;
fail:
    client_trust_free(trust);
    return NULL;
}

void client_trust_free(struct client_trust *trust)
{
    if (trust == NULL)
        return;
    gnutls_x509_trust_list_deinit(trust->list, 1);
    free(trust);
}

static const char *format_time(time_t when, char *out, size_t out_len)
{
    struct tm tm;

    if (when == (time_t)-1 || gmtime_r(&when, &tm) == NULL ||
        strftime(out, out_len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, out_len, "an unreadable date");
    return out;
}

/* The reason of a failed verification, the most useful first: whose CA, then revocation,
 * then dates. */
static void explain_status(unsigned status, gnutls_x509_crt_t cert, char *why, size_t why_len)
{
    if (status &
        (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA | GNUTLS_CERT_SIGNATURE_FAILURE))
        snprintf(why, why_len, "the client certificate is not signed by a CA lockboxd trusts");
    else if (status & GNUTLS_CERT_REVOKED)
        snprintf(why, why_len, "the client certificate has been revoked; ask for a new one");
    else if (status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED)) {
        char shown[32];
        if (status & GNUTLS_CERT_EXPIRED)
            snprintf(why, why_len,
                     "the client certificate has expired (not after %s); ask for a new one",
                     format_time(gnutls_x509_crt_get_expiration_time(cert), shown, sizeof(shown)));
        else
            snprintf(why, why_len, "the client certificate is not valid yet (not before %s)",
                     format_time(gnutls_x509_crt_get_activation_time(cert), shown, sizeof(shown)));
    } else if (status & GNUTLS_CERT_PURPOSE_MISMATCH)
        snprintf(why, why_len,
                 "the client certificate is not for TLS client authentication (its extended "
                 "key usage must include clientAuth)");
    else
        snprintf(why, why_len, "the client certificate could not be verified (status 0x%x)",
                 status);
}

/* The certificate's URI SANs, copied into uris (each malloc'd). Returns how many, or -1 when
 * one cannot be read whole (too long, or with a NUL inside: refused, never cut short). */
static int read_uri_sans(gnutls_x509_crt_t cert, char **uris)
{
    int n = 0;

    for (unsigned seq = 0;; seq++) {
        char buf[SAN_BYTES_MAX + 1];
        size_t size = SAN_BYTES_MAX;
        int type = gnutls_x509_crt_get_subject_alt_name(cert, seq, buf, &size, NULL);
        if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            return n;
        if (type < 0 || n >= SANS_MAX)
            return -1;
        if (type != GNUTLS_SAN_URI)
            continue;
        buf[size < SAN_BYTES_MAX ? size : SAN_BYTES_MAX] = '\0';
        if (strlen(buf) != size || (uris[n] = strdup(buf)) == NULL)
            return -1;
        n++;
    }
}

/* A CA certificate (an intermediate of client_ca, say) signs identities; it is never one
 * itself, or whoever holds such a key would log in with it as well as issue. A malformed
 * basicConstraints is refused too (fail closed). */
static int refuse_ca_certificate(gnutls_x509_crt_t cert, char *why, size_t why_len)
{
    unsigned critical = 0, is_ca = 0;
    int path_len = 0;
    int rc = gnutls_x509_crt_get_basic_constraints(cert, &critical, &is_ca, &path_len);

    if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE || (rc >= 0 && !is_ca))
        return 0;
    snprintf(why, why_len,
             "the client certificate is a CA certificate (basicConstraints CA:TRUE); use a "
             "certificate issued for one person or host");
    return -1;
}

static int name_caller(gnutls_x509_crt_t cert, struct client_cert_name *out, char *why,
                       size_t why_len)
{
    char *uris[SANS_MAX] = {NULL};
    int n = read_uri_sans(cert, uris);
    int rc = -1;

    if (n < 0)
        snprintf(why, why_len,
                 "the client certificate's subjectAltNames cannot be read (more than %d, or one "
                 "longer than %d bytes)",
                 SANS_MAX, SAN_BYTES_MAX);
    else
        rc = client_cert_parse_sans((const char *const *)uris, (size_t)n, out, why, why_len);
    for (int i = 0; i < SANS_MAX; i++)
        free(uris[i]);
    return rc;
}

int client_trust_verify(const struct client_trust *trust, gnutls_session_t session,
                        struct client_cert_name *out, char *why, size_t why_len)
{
    unsigned n_peers = 0;
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(session, &n_peers);
    gnutls_x509_crt_t chain[CHAIN_MAX];
    unsigned n_chain = 0;
    int rc = -1;

    why[0] = '\0';
    if (peers == NULL || n_peers == 0) {
        snprintf(why, why_len, "no client certificate was presented");
        return -1;
    }
    for (; n_chain < n_peers && n_chain < CHAIN_MAX; n_chain++) {
        if (gnutls_x509_crt_init(&chain[n_chain]) < 0)
            goto out;
        if (gnutls_x509_crt_import(chain[n_chain], &peers[n_chain], GNUTLS_X509_FMT_DER) < 0) {
            n_chain++;
            snprintf(why, why_len, "the client certificate cannot be parsed");
            goto out;
        }
    }
    /* A certificate that states its purposes must include client authentication. */
    gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID,
                                     (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};
    unsigned status = 0;
    if (gnutls_x509_trust_list_verify_crt2(trust->list, chain, n_chain, &purpose, 1, 0, &status,
                                           NULL) < 0) {
        snprintf(why, why_len, "the client certificate could not be verified");
        goto out;
    }
    if (status != 0) {
        explain_status(status, chain[0], why, why_len);
        goto out;
    }
    if (refuse_ca_certificate(chain[0], why, why_len) == 0)
        rc = name_caller(chain[0], out, why, why_len);
out:
    if (rc != 0 && why[0] == '\0')
        snprintf(why, why_len, "the client certificate could not be verified");
    for (unsigned i = 0; i < n_chain; i++)
        gnutls_x509_crt_deinit(chain[i]);
    return rc;
}
