/* Unit tests of lib/grant.c and lib/grant_sign.c: the statement's exact text, the strict
 * parser (every bad input the issue names), signing, verifying against pinned keys, the quorum
 * count, revoked keys, and the request's hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grant.h"

#define T0 1764072000000LL /* 2025-11-25T12:00:00Z */
#define HOUR 3600000LL

static const char statement_text[] =
    "lockbox-grant v1\n"
    "tenant contoso\n"
    "request 0123456789abcdef0123456789abcdef\n"
    "request-sha256 "
    "39ac2c9182e661de9a7880ce7a46579de6d65d9a0feb24c11132d3f95c7ce09b\n"
    "user eng1\n"
    "requester -\n"
    "host db01\n"
    "not-before 2025-11-25T12:00:00Z\n"
    "not-after 2025-11-26T00:00:00Z\n";

/* Three approvers and an outsider, with fixed keys so that failures are reproducible. */
enum { ALICE, BOB, CAROL, MALLORY, N_PEOPLE };
static const char *const names[N_PEOPLE] = {"alice", "bob", "carol", "mallory"};
static EVP_PKEY *keys_of[N_PEOPLE];
static struct approver_keys pinned; /* alice, bob, carol; not mallory */

static EVP_PKEY *fixed_key(unsigned char seed)
{
    unsigned char private_key[32];

    memset(private_key, seed, sizeof(private_key));
    return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, private_key, sizeof(private_key));
}

static void pin_line(char *file, size_t size, int who, const char *suffix)
{
    unsigned char raw[APPROVER_KEY_RAW_LEN];
    size_t raw_len = sizeof(raw);
    char line[APPROVER_KEY_LINE_MAX];

    assert_int_equal(EVP_PKEY_get_raw_public_key(keys_of[who], raw, &raw_len), 1);
    assert_int_equal(approver_key_line(names[who], raw, line), 0);
    snprintf(file + strlen(file), size - strlen(file), "%s%s\n", line, suffix);
}

static int setup(void **unused)
{
    char file[2048] = "# contoso's approvers\n", err[256];

    (void)unused;
    for (int i = 0; i < N_PEOPLE; i++)
        keys_of[i] = fixed_key((unsigned char)(i + 1));
    for (int i = ALICE; i <= CAROL; i++)
        pin_line(file, sizeof(file), i, "");
    assert_int_equal(approver_keys_parse(file, strlen(file), "keys", &pinned, err, sizeof(err)), 0);
    return 0;
}

static int teardown(void **unused)
{
    (void)unused;
    for (int i = 0; i < N_PEOPLE; i++)
        EVP_PKEY_free(keys_of[i]);
    return 0;
}

static struct grant sample_grant(void)
{
    struct grant g = {.statement = {
                          .tenant = "contoso",
                          .request_id = "0123456789abcdef0123456789abcdef",
                          .request_sha256 = "39ac2c9182e661de9a7880ce7a46579de6d65d9a0feb24c1113"
                                            "2d3f95c7ce09b",
                          .user = "eng1",
                          .requester = "",
                          .host = "db01",
                          .not_before_ms = T0,
                          .not_after_ms = T0 + 12 * HOUR,
                      }};
    return g;
}

static void sign_as(struct grant *g, int who)
{
    char err[256];

    assert_int_equal(grant_sign(g, names[who], keys_of[who], err, sizeof(err)), 0);
}

static char *build_text(const struct grant *g)
{
    char *text = NULL, err[256];
    size_t len;

    assert_int_equal(grant_build(g, &text, &len, err, sizeof(err)), 0);
    assert_int_equal(strlen(text), len);
    return text;
}

static void test_statement_text_is_exact(void **unused)
{
    struct grant g = sample_grant();
    char *text = build_text(&g);

    (void)unused;
    assert_string_equal(text, statement_text);
    free(text);
}

static void test_round_trip_signed(void **unused)
{
    struct grant g = sample_grant(), back;
    char err[256];

    (void)unused;
    snprintf(g.statement.requester, sizeof(g.statement.requester), "eng1");
    sign_as(&g, ALICE);
    sign_as(&g, BOB);
    char *text = build_text(&g);
    assert_non_null(strstr(text, "\n\n\xe2\x80\x94 alice "));
    assert_int_equal(grant_parse(text, strlen(text), &back, err, sizeof(err)), 0);
    assert_memory_equal(&back, &g, sizeof(g));
    char *again = build_text(&back);
    assert_string_equal(again, text);
    free(again);
    free(text);
}

/* Parses text and expects a refusal whose message holds `needle`. */
static void expect_refused(const char *text, const char *needle)
{
    struct grant g;
    char err[256] = "";

    if (grant_parse(text, strlen(text), &g, err, sizeof(err)) == 0)
        fail_msg("accepted: %s", text);
    if (strstr(err, needle) == NULL)
        fail_msg("error '%s' lacks '%s'", err, needle);
}

/* statement_text with `from` replaced by `to` (first occurrence). */
static char *edited(const char *base, const char *from, const char *to)
{
    const char *at = strstr(base, from);
    char *out = malloc(strlen(base) + strlen(to) + 1);

    assert_non_null(at);
    assert_non_null(out);
    sprintf(out, "%.*s%s%s", (int)(at - base), base, to, at + strlen(from));
    return out;
}

static void expect_edit_refused(const char *from, const char *to, const char *needle)
{
    char *text = edited(statement_text, from, to);

    expect_refused(text, needle);
    free(text);
}

static void test_parse_refuses_bad_input(void **unused)
{
    (void)unused;
    expect_refused("", "line 1: empty");
    expect_edit_refused("lockbox-grant v1", "lockbox-grant v2",
                        "line 1: unknown format version 'v2'");
    expect_edit_refused("lockbox-grant v1", "lockbox-grant", "line 1: not a Lockbox grant");
    expect_edit_refused("tenant contoso\n", "tenant  contoso\n", "line 2: tenant: one space");
    expect_edit_refused("tenant contoso\n", "tenant contoso \n", "line 2: tenant: one space");
    expect_edit_refused("user eng1\n", "user eng1\t\n", "line 5: user: one space");
    expect_edit_refused("tenant contoso\n", "tenant contoso\r\n", "line 2: ends in CR");
    expect_edit_refused("tenant contoso\n", "tenant con\xe2\x80\xaetoso\n",
                        "line 2: tenant must be");
    expect_edit_refused("user eng1\n", "", "line 5: expected the field 'user'");
    expect_edit_refused("user eng1\nrequester -\n", "requester -\nuser eng1\n",
                        "line 5: expected the field 'user'");
    expect_edit_refused("request 0123456789abcdef", "request 0123456789ABCDEF",
                        "line 3: request must be 32 lowercase hex");
    expect_edit_refused("request-sha256 39ac", "request-sha256 39aC", "line 4: request-sha256");
    expect_edit_refused("host db01", "host db 01", "line 7: host must be");
    expect_edit_refused("not-before 2025-11-25T12:00:00Z", "not-before 2025-11-25T12:00:00.000Z",
                        "line 8: not-before must be an RFC 3339 UTC time to the second");
    expect_edit_refused("not-before 2025-11-25T12:00:00Z", "not-before 2025-11-25T12:00:00+00:00",
                        "line 8: not-before must be");
    /* A leap second would read as the next minute: a second spelling of one time. */
    expect_edit_refused("not-after 2025-11-26T00:00:00Z", "not-after 2025-11-25T23:59:60Z",
                        "line 9: not-after must be an RFC 3339");
    expect_edit_refused("not-after 2025-11-26T00:00:00Z", "not-after 2025-11-25T12:00:00Z",
                        "line 9: not-after must be later than not-before");
    /* A NUL byte inside a line (what strlen would hide from a C caller). */
    struct grant g;
    char err[256], with_nul[sizeof(statement_text)];
    memcpy(with_nul, statement_text, sizeof(with_nul));
    with_nul[strlen("lockbox-grant v1\ntenant con")] = '\0';
    assert_int_equal(grant_parse(with_nul, sizeof(with_nul) - 1, &g, err, sizeof(err)), -1);
    assert_string_equal(err, "line 2: NUL byte");
}

static void test_parse_refuses_truncation(void **unused)
{
    struct grant g = sample_grant(), out;
    char err[256];

    (void)unused;
    sign_as(&g, ALICE);
    char *text = build_text(&g);
    size_t len = strlen(text);
    /* Every proper prefix but the unsigned statement itself is refused. */
    for (size_t cut = 0; cut < len; cut++) {
        bool is_statement = cut == strlen(statement_text);
        assert_int_equal(grant_parse(text, cut, &out, err, sizeof(err)) == 0, is_statement);
    }
    assert_int_equal(grant_parse(text, len - 1, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "line 11: no newline at the end (truncated?)"));
    assert_int_equal(grant_parse(text, strlen(statement_text) + 1, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "line 11: no signature after the empty line"));
    free(text);
}

static void test_parse_refuses_bad_signature_lines(void **unused)
{
    struct grant g = sample_grant();
    char *text, *bad;

    (void)unused;
    sign_as(&g, ALICE);
    text = build_text(&g);
    const char *line = strstr(text, "\xe2\x80\x94 ");
    char key_part[32];
    snprintf(key_part, sizeof(key_part), "%.14s", line + 4); /* "alice KEYID " less one */

    bad = edited(text, "\xe2\x80\x94 alice ", "- alice ");
    expect_refused(bad, "line 11: a signature line starts with an em dash");
    free(bad);
    bad = edited(text, "\xe2\x80\x94 alice ", "\xe2\x80\x94 alice  ");
    expect_refused(bad, "line 11: expected '\xe2\x80\x94 SIGNER KEYID SIGNATURE'");
    free(bad);
    bad = edited(text, "=\n", "= \n");
    expect_refused(bad, "line 11: expected");
    free(bad);
    bad = edited(text, "==\n", "\n");
    expect_refused(bad, "line 11: the signature is not the base64 of 64 bytes");
    free(bad);
    bad = edited(text, "\n\n", "\n \n");
    expect_refused(bad, "line 10: expected an empty line");
    free(bad);
    bad = edited(text, "\xe2\x80\x94 alice", "\xe2\x80\x94 -alice");
    expect_refused(bad, "line 11: the signer must be a name");
    free(bad);
    free(text);
}

static void test_at_most_16_signatures(void **unused)
{
    struct grant g = sample_grant(), out;
    char err[256], *text;
    size_t len;

    (void)unused;
    sign_as(&g, ALICE);
    for (size_t i = 1; i < LOCKBOX_GRANT_SIGNATURES_MAX; i++)
        g.signatures[g.n_signatures++] = g.signatures[0];
    text = build_text(&g);
    assert_int_equal(grant_parse(text, strlen(text), &out, err, sizeof(err)), 0);
    assert_int_equal(out.n_signatures, LOCKBOX_GRANT_SIGNATURES_MAX);
    assert_int_equal(grant_sign(&g, "bob", keys_of[BOB], err, sizeof(err)), -1);
    assert_non_null(strstr(err, "16 signatures"));
    /* A 17th line, written by hand, is refused on its line. */
    const char *first = strstr(text, "\xe2\x80\x94 ");
    char *longer = malloc(strlen(text) + 200);
    sprintf(longer, "%s%.*s", text, (int)(strchr(first, '\n') - first + 1), first);
    assert_int_equal(grant_parse(longer, strlen(longer), &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "line 27: more than 16 signatures"));
    g.n_signatures = LOCKBOX_GRANT_SIGNATURES_MAX + 1;
    assert_int_equal(grant_build(&g, &text, &len, err, sizeof(err)) == 0 ? 0 : -1, -1);
    free(longer);
    free(text);
}

static void test_build_refuses_invalid_fields(void **unused)
{
    struct grant g = sample_grant();
    char *text = NULL, err[256];
    size_t len;

    (void)unused;
    snprintf(g.statement.user, sizeof(g.statement.user), "eng 1");
    assert_int_equal(grant_build(&g, &text, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "user must be"));
    g = sample_grant();
    g.statement.not_after_ms = g.statement.not_before_ms;
    assert_int_equal(grant_build(&g, &text, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not-after must be later"));
    g = sample_grant();
    g.statement.not_before_ms += 1; /* not whole seconds */
    assert_int_equal(grant_build(&g, &text, &len, err, sizeof(err)), -1);
    assert_null(text);
}

static void test_verify_and_quorum(void **unused)
{
    struct grant g = sample_grant();
    struct grant_verification v;
    const char *const none[] = {NULL};

    (void)unused;
    sign_as(&g, ALICE);
    sign_as(&g, BOB);
    grant_verify(&g, &pinned, T0 + HOUR, &v);
    assert_int_equal(v.status[0], GRANT_SIGNATURE_VALID);
    assert_int_equal(v.status[1], GRANT_SIGNATURE_VALID);
    assert_true(v.in_window);
    assert_int_equal(grant_quorum(&g, &v, none, 0), 2);
    assert_true(grant_allows(&g, &pinned, T0 + HOUR, 2, none, 0));
    assert_false(grant_allows(&g, &pinned, T0 + HOUR, 3, none, 0));
    /* The window: from not-before, up to but not including not-after. */
    assert_true(grant_allows(&g, &pinned, T0, 1, none, 0));
    assert_false(grant_allows(&g, &pinned, T0 - 1, 1, none, 0));
    assert_false(grant_allows(&g, &pinned, T0 + 12 * HOUR, 1, none, 0));
    assert_false(grant_allows(&g, &pinned, T0 + HOUR, 0, none, 0));
}

static void test_excluded_names_not_counted(void **unused)
{
    struct grant g = sample_grant();
    struct grant_verification v;
    const char *const requester_and_user[] = {"bob", "", NULL, "eng1"};

    (void)unused;
    sign_as(&g, ALICE);
    sign_as(&g, BOB);
    grant_verify(&g, &pinned, T0 + HOUR, &v);
    assert_int_equal(grant_quorum(&g, &v, requester_and_user, 4), 1);
    assert_false(grant_allows(&g, &pinned, T0 + HOUR, 2, requester_and_user, 4));
}

static void test_same_signer_counted_once(void **unused)
{
    struct grant g = sample_grant();
    struct grant_verification v;

    (void)unused;
    sign_as(&g, ALICE);
    g.signatures[1] = g.signatures[0];
    g.n_signatures = 2;
    grant_verify(&g, &pinned, T0 + HOUR, &v);
    assert_int_equal(v.status[0], GRANT_SIGNATURE_VALID);
    assert_int_equal(v.status[1], GRANT_SIGNATURE_REPEATED);
    assert_int_equal(grant_quorum(&g, &v, NULL, 0), 1);
    /* The same key twice through grant_sign is refused outright. */
    char err[256];
    g.n_signatures = 1;
    assert_int_equal(grant_sign(&g, "alice", keys_of[ALICE], err, sizeof(err)), -1);
    assert_non_null(strstr(err, "already signed"));
}

static void test_signature_over_other_text(void **unused)
{
    struct grant g = sample_grant(), other = sample_grant();
    struct grant_verification v;

    (void)unused;
    snprintf(other.statement.host, sizeof(other.statement.host), "db02");
    sign_as(&other, ALICE);
    g.signatures[0] = other.signatures[0];
    g.n_signatures = 1;
    grant_verify(&g, &pinned, T0 + HOUR, &v);
    assert_int_equal(v.status[0], GRANT_SIGNATURE_BAD);
    assert_int_equal(grant_quorum(&g, &v, NULL, 0), 0);
    /* Moving the window is a different text too. */
    g = sample_grant();
    sign_as(&g, ALICE);
    g.statement.not_after_ms += HOUR;
    grant_verify(&g, &pinned, T0 + HOUR, &v);
    assert_int_equal(v.status[0], GRANT_SIGNATURE_BAD);
}

static void test_unpinned_and_misnamed_keys(void **unused)
{
    struct grant g = sample_grant();
    struct grant_verification v;
    char err[256];

    (void)unused;
    sign_as(&g, MALLORY);
    /* Bob's key, its line renamed to carol's. */
    sign_as(&g, BOB);
    snprintf(g.signatures[1].signer, sizeof(g.signatures[1].signer), "carol");
    /* Mallory signs with her key but calls herself alice: the key id is not alice's. */
    assert_int_equal(grant_sign(&g, "alice", keys_of[MALLORY], err, sizeof(err)), -1);
    g.signatures[2] = g.signatures[0];
    snprintf(g.signatures[2].signer, sizeof(g.signatures[2].signer), "alice");
    g.n_signatures = 3;
    grant_verify(&g, &pinned, T0 + HOUR, &v);
    assert_int_equal(v.status[0], GRANT_SIGNATURE_UNKNOWN_KEY);
    assert_int_equal(v.status[1], GRANT_SIGNATURE_WRONG_NAME);
    assert_int_equal(v.status[2], GRANT_SIGNATURE_UNKNOWN_KEY);
    assert_int_equal(grant_quorum(&g, &v, NULL, 0), 0);
}

static void test_wrong_key_type_refused_for_signing(void **unused)
{
    struct grant g = sample_grant();
    EVP_PKEY *x25519 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    char err[256];

    (void)unused;
    assert_non_null(x25519);
    assert_non_null(rsa);
    assert_int_equal(grant_sign(&g, "alice", x25519, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not an Ed25519 key"));
    assert_int_equal(grant_sign(&g, "alice", rsa, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not an Ed25519 key"));
    assert_int_equal(g.n_signatures, 0);
    EVP_PKEY_free(x25519);
    EVP_PKEY_free(rsa);
}

static void test_revoked_key_history(void **unused)
{
    char file[2048] = "", err[256];
    struct approver_keys *history = malloc(sizeof(*history));
    struct grant g = sample_grant();
    struct grant_verification v;

    (void)unused;
    /* Alice's key revoked at T0 + 2h; she signed at T0 + 1h. */
    pin_line(file, sizeof(file), ALICE, " revoked-at 2025-11-25T14:00:00Z");
    pin_line(file, sizeof(file), BOB, "");
    assert_int_equal(approver_keys_parse(file, strlen(file), "keys", history, err, sizeof(err)), 0);
    sign_as(&g, ALICE);
    /* For the audit, as of when the grant was recorded: valid. */
    grant_verify(&g, history, T0 + HOUR, &v);
    assert_int_equal(v.status[0], GRANT_SIGNATURE_VALID);
    /* For new access after the revocation: no longer counts, though still in the window. */
    grant_verify(&g, history, T0 + 3 * HOUR, &v);
    assert_int_equal(v.status[0], GRANT_SIGNATURE_REVOKED);
    assert_true(v.in_window);
    assert_false(grant_allows(&g, history, T0 + 3 * HOUR, 1, NULL, 0));
    assert_true(grant_allows(&g, history, T0 + HOUR, 1, NULL, 0));
    free(history);
}

static struct lockbox_request sample_request(void)
{
    struct lockbox_request req = {
        .id = "0123456789abcdef0123456789abcdef",
        .tenant = "contoso",
        .host = "db01",
        .user = "eng1",
        .requested_by = "root",
        .reason = "INC-4711 disk full",
        .created_at = T0 + 123,
    };
    return req;
}

static void test_request_hash(void **unused)
{
    struct lockbox_request req = sample_request();
    struct grant g = sample_grant();
    char hash[LOCKBOX_HASH_HEX_LEN + 1];

    (void)unused;
    /* The value docs/DESIGN.md's canonical text gives (computed with Python's hashlib). */
    assert_int_equal(grant_request_hash(&req, hash), 0);
    assert_string_equal(hash, "39ac2c9182e661de9a7880ce7a46579de6d65d9a0feb24c11132d3f95c7ce09b");
    assert_true(grant_matches_request(&g.statement, &req, "db01"));
    assert_false(grant_matches_request(&g.statement, &req, "db02"));
    snprintf(req.reason, sizeof(req.reason), "INC-4711 disk full!");
    assert_false(grant_matches_request(&g.statement, &req, "db01"));
    req = sample_request();
    snprintf(req.requester, sizeof(req.requester), "eng1");
    assert_false(grant_matches_request(&g.statement, &req, "db01"));
    req = sample_request();
    snprintf(req.reason, sizeof(req.reason), "two\nlines");
    assert_int_equal(grant_request_hash(&req, hash), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statement_text_is_exact),
        cmocka_unit_test(test_round_trip_signed),
        cmocka_unit_test(test_parse_refuses_bad_input),
        cmocka_unit_test(test_parse_refuses_truncation),
        cmocka_unit_test(test_parse_refuses_bad_signature_lines),
        cmocka_unit_test(test_at_most_16_signatures),
        cmocka_unit_test(test_build_refuses_invalid_fields),
        cmocka_unit_test(test_verify_and_quorum),
        cmocka_unit_test(test_excluded_names_not_counted),
        cmocka_unit_test(test_same_signer_counted_once),
        cmocka_unit_test(test_signature_over_other_text),
        cmocka_unit_test(test_unpinned_and_misnamed_keys),
        cmocka_unit_test(test_wrong_key_type_refused_for_signing),
        cmocka_unit_test(test_revoked_key_history),
        cmocka_unit_test(test_request_hash),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
