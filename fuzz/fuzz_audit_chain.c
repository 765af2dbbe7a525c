/* Fuzzes the audit chain (lib/audit_chain.c) two ways, chosen by the first byte:
 *  - verify: the input as audit file lines, through the verifier `lockboxctl audit verify`
 *    uses and the field reader and canonical check the daemon uses at start-up;
 *  - build: the rest as NUL-separated field values; a line built from them must read back
 *    with its seq and prev_hash, and a chain of two built lines must verify. */
#include <string.h>

#include "audit_chain.h"
#include "fuzz.h"
#include "text.h"

static void verify_lines(const char *data, size_t size)
{
    struct audit_verifier v;
    size_t start = 0, good = 0;

    audit_verifier_init(&v);
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != '\n')
            continue;
        uint64_t seq;
        char prev[LOCKBOX_HASH_HEX_LEN + 1];
        struct audit_line_info info;
        int has_fields = audit_line_fields(data + start, i - start, &seq, prev) == 0;
        if (has_fields)
            FUZZ_CHECK(seq > 0 && strlen(prev) == LOCKBOX_HASH_HEX_LEN);
        /* What the daemon would adopt at start-up must at least be a record. */
        if (audit_line_canonical(data + start, i - start, &info) == 0)
            FUZZ_CHECK(has_fields && info.seq == seq && strcmp(info.prev_hash, prev) == 0);
        if (audit_verify_line(&v, data + start, i - start, "fuzz:1") != 0) {
            FUZZ_CHECK(v.error[0] != '\0');
            break;
        }
        FUZZ_CHECK(v.records == ++good);
        start = i + 1;
    }
    /* The head check must agree with the last good record, and refuse any other head. */
    if (v.started) {
        char head[LOCKBOX_HASH_HEX_LEN + 1];
        memcpy(head, v.hash, sizeof(head));
        FUZZ_CHECK(audit_verify_head(&v, v.seq, head) == 0);
        head[0] = head[0] == '0' ? '1' : '0';
        FUZZ_CHECK(audit_verify_head(&v, v.seq, head) != 0);
        FUZZ_CHECK(audit_verify_head(&v, v.seq + 1, v.hash) != 0);
    }
}

/* Splits the input at NULs into at most n bounded, clean values (as the daemon only records
 * validated text). Missing ones stay NULL. */
static void take_fields(const char *data, size_t size, const char **out, size_t n, char *store)
{
    size_t k = 0, start = 0;
    memcpy(store, data, size);
    store[size] = '\0';
    for (size_t i = 0; i <= size && k < n; i++) {
        if (i < size && store[i] != '\0')
            continue;
        store[i] = '\0';
        out[k++] = text_is_clean(store + start, LOCKBOX_TEXT_MAX) ? store + start : NULL;
        start = i + 1;
    }
}

static void build_and_read_back(const char *data, size_t size)
{
    const char *f[8] = {NULL};
    char *store = malloc(size + 1);
    char *line1 = NULL, *line2 = NULL;
    char hash1[LOCKBOX_HASH_HEX_LEN + 1], hash2[LOCKBOX_HASH_HEX_LEN + 1];
    char prev[LOCKBOX_HASH_HEX_LEN + 1];
    uint64_t seq;

    if (store == NULL)
        return;
    take_fields(data, size, f, 8, store);
    struct audit_event ev =
        {f[0] ? f[0] : "request.created", f[1], f[2], f[3], f[4], f[5], f[6], f[7],
         (int64_t)size * 1000003};
    FUZZ_CHECK(audit_line_build(1, 1, 1700000000123, &ev, AUDIT_ZERO_HASH, &line1) == 0);
    FUZZ_CHECK(strchr(line1, '\n') == NULL);        /* one record, one line */
    char *escaped = text_escape_json_hidden(line1); /* and no hidden character raw */
    FUZZ_CHECK(escaped != NULL && strcmp(escaped, line1) == 0);
    free(escaped);
    FUZZ_CHECK(audit_line_fields(line1, strlen(line1), &seq, prev) == 0);
    FUZZ_CHECK(seq == 1 && strcmp(prev, AUDIT_ZERO_HASH) == 0);
    FUZZ_CHECK(audit_record_hash(line1, strlen(line1), hash1) == 0);
    /* Every line the daemon builds reads back as canonical (so it could be adopted). */
    struct audit_line_info info;
    if (strlen(ev.event) < sizeof(info.event) &&
        (ev.tenant == NULL || strlen(ev.tenant) < sizeof(info.tenant)))
        FUZZ_CHECK(audit_line_canonical(line1, strlen(line1), &info) == 0 && info.seq == 1 &&
                   info.time_ms == 1700000000123 && strcmp(info.event, ev.event) == 0);
    FUZZ_CHECK(audit_line_build(2, 1, 1700000000999, &ev, hash1, &line2) == 0);
    FUZZ_CHECK(audit_record_hash(line2, strlen(line2), hash2) == 0);

    struct audit_verifier v;
    audit_verifier_init(&v);
    FUZZ_CHECK(audit_verify_line(&v, line1, strlen(line1), "fuzz:1") == 0);
    FUZZ_CHECK(audit_verify_line(&v, line2, strlen(line2), "fuzz:2") == 0);
    FUZZ_CHECK(audit_verify_head(&v, 2, hash2) == 0);
    /* A chain may continue in a rotated file: starting at seq 2 is accepted. */
    audit_verifier_init(&v);
    FUZZ_CHECK(audit_verify_line(&v, line2, strlen(line2), "fuzz:1") == 0);
    FUZZ_CHECK(audit_verify_head(&v, 2, hash2) == 0 && v.records == 1);
    free(line1);
    free(line2);
    free(store);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4 * LOCKBOX_AUDIT_LINE_MAX)
        return 0;
    /* Exactly the bytes, no terminator: over-reads are ASan reports. */
    char *copy = malloc(size);
    if (copy == NULL)
        return 0;
    memcpy(copy, data + 1, size - 1);
    if (data[0] & 1)
        build_and_read_back(copy, size - 1);
    else
        verify_lines(copy, size - 1);
    free(copy);
    return 0;
}
