/* `audit verify --database`: the chain as lockboxd's database holds it (GET /v1/audit, page by
 * page, root only), walked with the same verifier as the files and ended at the head the daemon
 * reports. With PostgreSQL this is the chain every instance appends to; the audit files are
 * its mirrors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit_chain.h"
#include "audit_cmd.h"
#include "output.h"

#define PAGE 1000

struct db_page {
    bool more, all_tenants;
    uint64_t next_after, head_seq;
    char head_hash[LOCKBOX_HASH_HEX_LEN + 1];
};

static int page_fields(json_object *body, struct db_page *page)
{
    json_object *more, *all, *next, *seq, *hash;

    if (!json_object_object_get_ex(body, "more", &more) ||
        !json_object_object_get_ex(body, "all_tenants", &all) ||
        !json_object_object_get_ex(body, "next_after", &next) ||
        !json_object_object_get_ex(body, "head_seq", &seq) ||
        !json_object_object_get_ex(body, "head_hash", &hash) ||
        !json_object_is_type(hash, json_type_string) || json_object_get_int64(next) < 0 ||
        json_object_get_int64(seq) < 0 || json_object_get_string_len(hash) != LOCKBOX_HASH_HEX_LEN)
        return cli_fail("lockboxd's audit reply lacks more, all_tenants, next_after or the head");
    page->more = json_object_get_boolean(more);
    page->all_tenants = json_object_get_boolean(all);
    page->next_after = (uint64_t)json_object_get_int64(next);
    page->head_seq = (uint64_t)json_object_get_int64(seq);
    snprintf(page->head_hash, sizeof(page->head_hash), "%s", json_object_get_string(hash));
    return CLI_OK;
}

/* The head the daemon reported first: other lockboxd on the same database may append while
 * the pages are read, so the chain must reach it and pass through it, and may go beyond. */
struct db_head {
    bool known, passed;
    uint64_t seq;
    char hash[LOCKBOX_HASH_HEX_LEN + 1];
};

static int verify_records(struct audit_verifier *verifier, json_object *body, struct db_head *head)
{
    json_object *records;
    char where[64];

    if (!json_object_object_get_ex(body, "records", &records) ||
        !json_object_is_type(records, json_type_array))
        return cli_fail("lockboxd's audit reply has no records array");
    for (size_t i = 0; i < json_object_array_length(records); i++) {
        json_object *line = json_object_array_get_idx(records, i);
        if (!json_object_is_type(line, json_type_string))
            return cli_fail("lockboxd's audit reply holds a record that is not a string");
        snprintf(where, sizeof(where), "database record %llu",
                 (unsigned long long)verifier->records + 1);
        if (audit_verify_line(verifier, json_object_get_string(line),
                              (size_t)json_object_get_string_len(line), where) != 0)
            return CLI_FAIL;
        if (head->known && verifier->seq == head->seq) {
            if (strcmp(verifier->hash, head->hash) != 0) {
                snprintf(verifier->error, sizeof(verifier->error),
                         "database record %llu is not the one lockboxd holds as the head "
                         "(altered)",
                         (unsigned long long)head->seq);
                return CLI_FAIL;
            }
            head->passed = true;
        }
    }
    return CLI_OK;
}

static int report(const struct cli *cli, const struct audit_verifier *v, const char *error)
{
    if (cli->json) {
        json_object *result = json_object_new_object();
        json_object_object_add(result, "ok", json_object_new_boolean(error == NULL));
        json_object_object_add(result, "source", json_object_new_string("database"));
        json_object_object_add(result, "records", json_object_new_int64((int64_t)v->records));
        if (error != NULL)
            json_object_object_add(result, "error", json_object_new_string(error));
        out_print_json(result);
        json_object_put(result);
    }
    if (error != NULL)
        return cli_fail("audit chain broken: %s", error);
    if (!cli->json)
        printf("audit chain OK (database): %llu records, seq 1..%llu\n",
               (unsigned long long)v->records, (unsigned long long)v->seq);
    return CLI_OK;
}

int audit_verify_database(struct cli *cli)
{
    struct audit_verifier verifier;
    struct db_page page = {true, true, 0, 0, {0}};
    struct db_head head = {false, false, 0, {0}};
    char path[96];
    int rc = CLI_OK;

    audit_verifier_init(&verifier);
    while (rc == CLI_OK && page.more) {
        struct lockbox_reply reply;
        snprintf(path, sizeof(path), "/v1/audit?after=%llu&limit=%d",
                 (unsigned long long)page.next_after, PAGE);
        rc = api_call(cli, "GET", path, NULL, 0, 0, &reply);
        if (rc == CLI_OK)
            rc = page_fields(reply.body, &page);
        if (rc == CLI_OK && !page.all_tenants)
            rc = cli_fail("only root can verify the whole chain (it holds every tenant's "
                          "records)");
        if (rc == CLI_OK && !head.known) {
            head.known = true;
            head.seq = page.head_seq;
            memcpy(head.hash, page.head_hash, sizeof(head.hash));
            head.passed = head.seq == 0;
        }
        if (rc == CLI_OK && verify_records(&verifier, reply.body, &head) != CLI_OK)
            rc = report(cli, &verifier, verifier.error);
        lockbox_reply_free(&reply);
    }
    if (rc != CLI_OK)
        return rc;
    if (!head.passed) {
        char message[160];
        snprintf(message, sizeof(message),
                 "the database's chain ends at seq %llu but lockboxd's head is seq %llu "
                 "(tail removed)",
                 (unsigned long long)verifier.seq, (unsigned long long)head.seq);
        return report(cli, &verifier, message);
    }
    return report(cli, &verifier, NULL);
}
