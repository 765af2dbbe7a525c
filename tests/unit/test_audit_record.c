/* Unit tests of lib/audit_record.c and the verifier across formats: format-1 files stay
 * verifiable, format 2 commits to content by hash, and a withheld record (two hashes) keeps
 * the chain checkable while any change to it, or to its neighbours, is found. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_chain.h"

#define T0 1764072000123LL
#define N 6

static const char *const tenants[N] = {"contoso", "fabrikam", "contoso",
                                       NULL,      "fabrikam", "contoso"};

struct chain {
    char *lines[N];
    audit_hash hashes[N];
};

static char *v2_line_from(uint64_t seq, uint64_t v2_from, const char *tenant, const char *prev)
{
    struct audit_event ev = {.event = "request.created",
                             .tenant = tenant,
                             .host = "db01",
                             .user = "eng1",
                             .actor = "eng1",
                             .reason = "INC-1"};
    char *line = NULL;

    assert_int_equal(audit_line_build(seq, v2_from, T0 + (int64_t)seq, &ev, prev, &line), 0);
    return line;
}

static char *v2_line(uint64_t seq, const char *tenant, const char *prev)
{
    return v2_line_from(seq, 1, tenant, prev);
}

/* A format-1 line as lockboxd wrote them before Step 14. */
static char *v1_line(uint64_t seq, const char *prev)
{
    char *line = NULL;
    assert_true(asprintf(&line,
                         "{\"seq\":%llu,\"time\":\"2025-11-25T12:00:00.123Z\",\"event\":"
                         "\"login.allowed\",\"request_id\":null,\"tenant\":\"contoso\",\"host\":"
                         "\"db01\",\"user\":\"eng1\",\"actor\":\"eng1\",\"requester\":null,"
                         "\"reason\":null,\"comment\":null,\"expires_at\":null,\"prev_hash\":"
                         "\"%s\"}",
                         (unsigned long long)seq, prev) > 0);
    return line;
}

/* Records 1..N: the first `v1` in format 1, the rest in format 2. */
static void build(struct chain *c, int v1)
{
    const char *prev = AUDIT_ZERO_HASH;

    for (int i = 0; i < N; i++) {
        c->lines[i] = i < v1 ? v1_line((uint64_t)i + 1, prev)
                             : v2_line_from((uint64_t)i + 1, (uint64_t)v1 + 1, tenants[i], prev);
        assert_int_equal(audit_record_hash(c->lines[i], strlen(c->lines[i]), c->hashes[i]), 0);
        prev = c->hashes[i];
    }
}

static void release(struct chain *c)
{
    for (int i = 0; i < N; i++)
        free(c->lines[i]);
}

/* Verifies the chain as `tenant` would see it: its own records whole, the others withheld
 * (format 2) or given by their hash (format 1). Returns the index refused, or -1. */
static int verify_as(struct chain *c, const char *tenant, struct audit_verifier *v)
{
    audit_verifier_init(v);
    for (int i = 0; i < N; i++) {
        const char *l = c->lines[i];
        bool own = tenants[i] != NULL && strcmp(tenants[i], tenant) == 0;
        struct audit_withheld w;
        int rc;
        if (own)
            rc = audit_verify_line(v, l, strlen(l), "export");
        else if (audit_line_version(l, strlen(l)) == 1)
            rc = audit_verify_withheld_v1(v, (uint64_t)i + 1, c->hashes[i], "export");
        else {
            assert_int_equal(audit_withhold(l, strlen(l), &w), 0);
            rc = audit_verify_withheld(v, &w, "export");
        }
        if (rc != 0)
            return i;
    }
    return audit_verify_head(v, N, c->hashes[N - 1]) == 0 ? -1 : N;
}

static void test_format_2_hash_is_over_content_hash(void **unused)
{
    (void)unused;
    char *line = v2_line(3, "contoso", AUDIT_ZERO_HASH);
    size_t len = strlen(line);
    audit_hash content, tag, expect, got, plain;

    assert_int_equal(audit_line_version(line, len), 2);
    assert_int_equal(audit_content_hash(line, len, content), 0);
    /* The content is the line before its prev_hash member. */
    char *member = strstr(line, ",\"prev_hash\":");
    assert_int_equal(audit_hash_hex(line, (size_t)(member - line), plain), 0);
    assert_string_equal(content, plain);
    assert_int_equal(audit_tenant_tag(3, "contoso", tag), 0);
    assert_int_equal(audit_hash_v2(3, AUDIT_ZERO_HASH, tag, content, expect), 0);
    assert_int_equal(audit_record_hash(line, len, got), 0);
    assert_string_equal(got, expect);
    /* Not the hash of the bytes, as format 1 was. */
    assert_int_equal(audit_hash_hex(line, len, plain), 0);
    assert_string_not_equal(got, plain);
    free(line);
}

static void test_tenant_tag_is_per_record_and_per_tenant(void **unused)
{
    (void)unused;
    audit_hash a1, a2, b1, none;
    assert_int_equal(audit_tenant_tag(1, "contoso", a1), 0);
    assert_int_equal(audit_tenant_tag(2, "contoso", a2), 0);
    assert_int_equal(audit_tenant_tag(1, "fabrikam", b1), 0);
    assert_int_equal(audit_tenant_tag(1, NULL, none), 0);
    assert_string_not_equal(a1, a2); /* two records of one tenant do not look alike */
    assert_string_not_equal(a1, b1);
    assert_string_not_equal(a1, none);
}

static void test_old_files_and_mixed_chains_verify(void **unused)
{
    (void)unused;
    for (int v1 = 0; v1 <= N; v1++) {
        struct chain c;
        struct audit_verifier v;
        build(&c, v1);
        audit_verifier_init(&v);
        for (int i = 0; i < N; i++)
            assert_int_equal(audit_verify_line(&v, c.lines[i], strlen(c.lines[i]), "f"), 0);
        assert_int_equal(audit_verify_head(&v, N, c.hashes[N - 1]), 0);
        release(&c);
    }
}

static void test_format_1_after_format_2_is_refused(void **unused)
{
    (void)unused;
    struct audit_verifier v;
    audit_hash h1;
    char *first = v2_line(1, "contoso", AUDIT_ZERO_HASH);
    assert_int_equal(audit_record_hash(first, strlen(first), h1), 0);
    char *second = v1_line(2, h1);

    audit_verifier_init(&v);
    assert_int_equal(audit_verify_line(&v, first, strlen(first), "f:1"), 0);
    assert_int_equal(audit_verify_line(&v, second, strlen(second), "f:2"), -1);
    assert_non_null(strstr(v.error, "given in format 1, but format 2 began at seq 1"));
    free(first);
    free(second);
}

static void test_each_tenant_verifies_its_redacted_chain(void **unused)
{
    (void)unused;
    for (int v1 = 0; v1 <= 2; v1++) {
        struct chain c;
        struct audit_verifier v;
        build(&c, v1);
        assert_int_equal(verify_as(&c, "contoso", &v), -1);
        assert_int_equal(v.records, (uint64_t)N);
        assert_int_equal(verify_as(&c, "fabrikam", &v), -1);
        assert_int_equal(v.taken_on_trust, (uint64_t)(v1 >= 1 ? 1 : 0)); /* seq 1 */
        release(&c);
    }
}

static void test_an_altered_record_is_found_whole_or_withheld(void **unused)
{
    (void)unused;
    struct chain c;
    struct audit_verifier v;
    build(&c, 0);
    /* contoso's own record 3 (index 2) altered: found at its next whole record (seq 6; seq
     * 4 and 5 are withheld from contoso), which names the range. */
    char *reason = strstr(c.lines[2], "INC-1");
    reason[4] = '2';
    assert_int_equal(verify_as(&c, "contoso", &v), 5);
    assert_non_null(strstr(v.error, "one of seq 3 to 5 altered"));
    /* The same change seen by fabrikam, to whom the record is withheld: its content hash
     * changed, so the chain breaks at fabrikam's next record (seq 5). */
    assert_int_equal(verify_as(&c, "fabrikam", &v), 4);
    reason[4] = '1';
    /* A record's tenant changed (as if to withhold it from its own tenant): its tag and so
     * its hash change, found at the next whole record. */
    char *tenant = strstr(c.lines[4], "fabrikam");
    memcpy(tenant, "fabrikax", 8);
    assert_int_equal(verify_as(&c, "contoso", &v), 5);
    release(&c);
}

static void test_withheld_stub_must_be_the_record(void **unused)
{
    (void)unused;
    struct chain c;
    struct audit_verifier v;
    struct audit_withheld w;
    build(&c, 0);
    audit_verifier_init(&v);
    assert_int_equal(audit_verify_line(&v, c.lines[0], strlen(c.lines[0]), "e"), 0);
    assert_int_equal(audit_withhold(c.lines[1], strlen(c.lines[1]), &w), 0);
    struct audit_withheld forged = w;
    forged.content_hash[0] = forged.content_hash[0] == 'a' ? 'b' : 'a';
    assert_int_equal(audit_verify_withheld(&v, &forged, "e:2"), 0); /* accepted alone ... */
    /* ... but the next record does not chain to it. */
    assert_int_equal(audit_verify_line(&v, c.lines[2], strlen(c.lines[2]), "e:3"), -1);
    assert_non_null(strstr(v.error, "does not chain"));
    /* A stub out of place, or malformed. */
    audit_verifier_init(&v);
    assert_int_equal(audit_verify_withheld(&v, &w, "e:2"), -1); /* cannot start at seq 2 */
    audit_verifier_init(&v);
    assert_int_equal(audit_verify_line(&v, c.lines[0], strlen(c.lines[0]), "e"), 0);
    strcpy(forged.tenant_tag, "XYZ");
    assert_int_equal(audit_verify_withheld(&v, &forged, "e:2"), -1);
    assert_non_null(strstr(v.error, "malformed"));
    /* A format-1 line cannot be withheld by content hash. */
    char *old = v1_line(1, AUDIT_ZERO_HASH);
    assert_int_equal(audit_withhold(old, strlen(old), &w), -1);
    free(old);
    release(&c);
}

static void test_an_excerpt_starts_after_a_known_record(void **unused)
{
    (void)unused;
    struct chain c;
    struct audit_verifier v;
    build(&c, 0);
    audit_verifier_start_after(&v, 3, c.hashes[2]);
    for (int i = 3; i < N; i++)
        assert_int_equal(audit_verify_line(&v, c.lines[i], strlen(c.lines[i]), "x"), 0);
    assert_int_equal(audit_verify_head(&v, N, c.hashes[N - 1]), 0);
    /* Started after the wrong hash: the first record does not chain. */
    audit_verifier_start_after(&v, 3, c.hashes[1]);
    assert_int_equal(audit_verify_line(&v, c.lines[3], strlen(c.lines[3]), "x"), -1);
    release(&c);
}

static void test_malformed_format_2_lines(void **unused)
{
    (void)unused;
    audit_hash h;
    const char *const bad[] = {
        "{\"v\":2,\"seq\":1,\"tenant\":null}",
        "{\"v\":2,\"seq\":1,\"tenant\":null,\"prev_hash\":\"" AUDIT_ZERO_HASH "\"} ",
        "{\"v\":2,\"seq\":1,\"tenant\":null,\"prev_hash\":"
        "\"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\"}",
        "{\"v\":2,\"seq\":0,\"tenant\":null,\"prev_hash\":\"" AUDIT_ZERO_HASH "\"}",
        "{\"v\":2,\"seq\":1,\"tenant\":7,\"prev_hash\":\"" AUDIT_ZERO_HASH "\"}",
        "{\"v\":2,\"seq\":1,\"prev_hash\":\"" AUDIT_ZERO_HASH "\"}",
        "{\"v\":2,",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (audit_record_hash(bad[i], strlen(bad[i]), h) != -1)
            fail_msg("malformed format-2 line #%zu hashed", i);
    }
}

/* Review finding: a format-2 record given as a format-1 hash (taken on trust, its tenant tag
 * never checked) would hide it. A later whole record of the tenant's says where format 2
 * began, and the stub is refused then. */
static void test_format_2_record_passed_off_as_format_1_is_refused(void **unused)
{
    (void)unused;
    struct chain c;
    struct audit_verifier v;
    build(&c, 0); /* all format 2, v2_from 1 */
    audit_verifier_start_after(&v, 0, AUDIT_ZERO_HASH);
    /* Records 1 and 2 (contoso's record 1 among them) passed off as format-1 hashes. */
    assert_int_equal(audit_verify_withheld_v1(&v, 1, c.hashes[0], "x:1"), 0);
    assert_int_equal(audit_verify_withheld_v1(&v, 2, c.hashes[1], "x:2"), 0);
    assert_int_equal(audit_verify_line(&v, c.lines[2], strlen(c.lines[2]), "x:3"), -1);
    assert_non_null(strstr(v.error, "format 2 began at seq 1"));
    assert_non_null(strstr(v.error, "passed off"));
    /* Once known, a format-1 stub at or after v2_from is refused at once. */
    audit_verifier_start_after(&v, 0, AUDIT_ZERO_HASH);
    assert_int_equal(audit_verify_line(&v, c.lines[0], strlen(c.lines[0]), "y:1"), 0);
    assert_int_equal(audit_verify_withheld_v1(&v, 2, c.hashes[1], "y:2"), -1);
    assert_non_null(strstr(v.error, "given in format 1, but format 2 began at seq 1"));
    release(&c);
}

static void test_genuine_format_1_stubs_before_v2_from_pass(void **unused)
{
    (void)unused;
    struct chain c;
    struct audit_verifier v;
    build(&c, 2); /* seq 1-2 format 1, v2_from 3 */
    audit_verifier_start_after(&v, 0, AUDIT_ZERO_HASH);
    assert_int_equal(audit_verify_withheld_v1(&v, 1, c.hashes[0], "z:1"), 0);
    assert_int_equal(audit_verify_withheld_v1(&v, 2, c.hashes[1], "z:2"), 0);
    for (int i = 2; i < N; i++)
        assert_int_equal(audit_verify_line(&v, c.lines[i], strlen(c.lines[i]), "z"), 0);
    assert_int_equal(v.v2_from, 3);
    assert_int_equal(v.taken_on_trust, 2);
    assert_int_equal(v.trust_first, 1);
    assert_int_equal(v.trust_last, 2);
    release(&c);
}

/* Review finding: an export from the start whose first entry is not seq 1 dropped records. */
static void test_an_excerpt_from_zero_starts_at_seq_1(void **unused)
{
    (void)unused;
    struct chain c;
    struct audit_verifier v;
    build(&c, 0);
    audit_verifier_start_after(&v, 0, AUDIT_ZERO_HASH);
    assert_int_equal(audit_verify_line(&v, c.lines[3], strlen(c.lines[3]), "e:1"), -1);
    assert_non_null(strstr(v.error, "missing (removed)"));
    release(&c);
}

/* Review finding: without a nonce, a withheld login record's content hash could be found by
 * trying its few unknown fields. Two records of the same event at the same time differ. */
static void test_same_event_twice_has_two_content_hashes(void **unused)
{
    (void)unused;
    audit_hash a, b;
    char *first = v2_line(9, "fabrikam", AUDIT_ZERO_HASH);
    char *second = v2_line(9, "fabrikam", AUDIT_ZERO_HASH);
    assert_int_equal(audit_content_hash(first, strlen(first), a), 0);
    assert_int_equal(audit_content_hash(second, strlen(second), b), 0);
    assert_string_not_equal(a, b);
    free(first);
    free(second);
}

/* A format-1 line after format-2 ones is still a line lockboxd once wrote (canonical), but in
 * an older format: start-up adoption must see that (journal.c refuses it). */
static void test_canonical_reports_the_format(void **unused)
{
    (void)unused;
    struct audit_line_info info;
    char *v2 = v2_line_from(7, 5, "contoso", AUDIT_ZERO_HASH);
    char *v1 = v1_line(7, AUDIT_ZERO_HASH);
    assert_int_equal(audit_line_canonical(v2, strlen(v2), &info), 0);
    assert_int_equal(info.version, 2);
    assert_int_equal(info.v2_from, 5);
    assert_int_equal(audit_line_canonical(v1, strlen(v1), &info), 0);
    assert_int_equal(info.version, 1);
    free(v2);
    free(v1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_2_hash_is_over_content_hash),
        cmocka_unit_test(test_tenant_tag_is_per_record_and_per_tenant),
        cmocka_unit_test(test_old_files_and_mixed_chains_verify),
        cmocka_unit_test(test_format_1_after_format_2_is_refused),
        cmocka_unit_test(test_each_tenant_verifies_its_redacted_chain),
        cmocka_unit_test(test_an_altered_record_is_found_whole_or_withheld),
        cmocka_unit_test(test_withheld_stub_must_be_the_record),
        cmocka_unit_test(test_an_excerpt_starts_after_a_known_record),
        cmocka_unit_test(test_malformed_format_2_lines),
        cmocka_unit_test(test_format_2_record_passed_off_as_format_1_is_refused),
        cmocka_unit_test(test_genuine_format_1_stubs_before_v2_from_pass),
        cmocka_unit_test(test_an_excerpt_from_zero_starts_at_seq_1),
        cmocka_unit_test(test_same_event_twice_has_two_content_hashes),
        cmocka_unit_test(test_canonical_reports_the_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
