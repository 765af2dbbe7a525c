/* A host's feed: its requests, ordered and versioned by their content. */
#include "host_feed.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "request_json.h"
#include "text.h"

#define WAITER_KEY_PREFIX "h:"

bool host_feed_has(const struct host_feed *feed, const char *id)
{
    for (size_t i = 0; i < feed->count; i++) {
        if (strcmp(feed->requests[i].id, id) == 0)
            return true;
    }
    return false;
}

int host_feed_add(struct host_feed *feed, const struct lockbox_request *req)
{
    if (host_feed_has(feed, req->id))
        return 0;
    if (array_grow(&feed->requests, &feed->cap, feed->count + 1, sizeof(*feed->requests), 16) != 0)
        return -1;
    feed->requests[feed->count++] = *req;
    return 0;
}

static int by_id(const void *a, const void *b)
{
    return strcmp(((const struct lockbox_request *)a)->id, ((const struct lockbox_request *)b)->id);
}

static void to_hex(const unsigned char *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

/* SHA-256 over each request's JSON (every field a change can touch), in id order. A counter
 * would do on one instance; the content needs no state to keep and agrees across instances
 * on one database, and across restarts. */
int host_feed_seal(struct host_feed *feed)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned digest_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;

    if (feed->count > 1)
        qsort(feed->requests, feed->count, sizeof(*feed->requests), by_id);
    for (size_t i = 0; ok && i < feed->count; i++) {
        json_object *obj = request_to_json(&feed->requests[i]);
        const char *text = obj ? json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN) : NULL;
        ok = text != NULL && EVP_DigestUpdate(ctx, text, strlen(text)) == 1 &&
             EVP_DigestUpdate(ctx, "\n", 1) == 1;
        json_object_put(obj);
    }
    ok = ok && EVP_DigestFinal_ex(ctx, digest, &digest_len) == 1 &&
         digest_len * 2 >= HOST_FEED_VERSION_LEN;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    to_hex(digest, HOST_FEED_VERSION_LEN / 2, feed->version);
    return 0;
}

json_object *host_feed_to_json(const struct host_feed *feed)
{
    json_object *obj = json_object_new_object(), *array = json_object_new_array();

    for (size_t i = 0; i < feed->count; i++)
        json_object_array_add(array, request_to_json(&feed->requests[i]));
    json_object_object_add(obj, "host", json_object_new_string(feed->host));
    json_object_object_add(obj, "tenant", json_object_new_string(feed->tenant));
    json_object_object_add(obj, "version", json_object_new_string(feed->version));
    json_object_object_add(obj, "requests", array);
    return obj;
}

void host_feed_free(struct host_feed *feed)
{
    free(feed->requests);
    feed->requests = NULL;
    feed->count = feed->cap = 0;
}

int host_feed_parse_known(const char *text, char (*ids)[LOCKBOX_ID_HEX_LEN + 1], size_t max,
                          size_t *count)
{
    *count = 0;
    if (text[0] == '\0')
        return 0; /* known= with nothing: the agent holds nothing */
    for (const char *p = text;; p++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (*count >= max || len != LOCKBOX_ID_HEX_LEN || !text_is_request_id(p, len))
            return -1;
        memcpy(ids[*count], p, len);
        ids[(*count)++][len] = '\0';
        if (end == NULL)
            return 0;
        p = end;
    }
}

void host_feed_waiter_key(const char *host, char key[LOCKBOX_ID_HEX_LEN + 1])
{
    static const char domain[] = "lockbox-host-feed\n";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned digest_len = 0;
    size_t hex_len = LOCKBOX_ID_HEX_LEN - strlen(WAITER_KEY_PREFIX);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    memset(digest, 0, sizeof(digest));
    /* A failure leaves the hash zero: every host then shares one key, so a change wakes
     * more feeds than it needs to, each answering with its own state. Never fewer. */
    if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(ctx, domain, strlen(domain)) == 1 &&
        EVP_DigestUpdate(ctx, host, strlen(host)) == 1)
        EVP_DigestFinal_ex(ctx, digest, &digest_len);
    EVP_MD_CTX_free(ctx);
    memcpy(key, WAITER_KEY_PREFIX, strlen(WAITER_KEY_PREFIX));
    to_hex(digest, hex_len / 2, key + strlen(WAITER_KEY_PREFIX));
}

bool host_feed_is_waiter_key(const char *key)
{
    return strncmp(key, WAITER_KEY_PREFIX, strlen(WAITER_KEY_PREFIX)) == 0;
}
