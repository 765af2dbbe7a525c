/* Fuzzes the client certificate's identity parsing (lockboxd/client_cert.c): the input is the
 * list of URI SANs, one per line. Whatever is accepted names exactly one person or host with
 * a valid name short enough for "lockbox:user/NAME" to fit where actor names are stored, and
 * a refusal always says why. */
#include <string.h>

#include "client_cert.h"
#include "fuzz.h"
#include "text.h"

#define URIS_MAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstring(data, size);
    const char *uris[URIS_MAX];
    size_t n = 0;
    struct client_cert_name name;
    char why[256] = "";

    for (char *line = text, *next; line != NULL && n < URIS_MAX; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        uris[n++] = line;
    }
    if (client_cert_parse_sans(uris, n, &name, why, sizeof(why)) == 0) {
        FUZZ_CHECK(name.kind == IDENTITY_REMOTE_PERSON || name.kind == IDENTITY_REMOTE_HOST);
        FUZZ_CHECK(strlen(name.name) <= LOCKBOX_REMOTE_NAME_MAX);
        FUZZ_CHECK(name.kind == IDENTITY_REMOTE_PERSON
                       ? text_is_name(name.name, LOCKBOX_REMOTE_NAME_MAX)
                       : text_is_host(name.name, LOCKBOX_REMOTE_NAME_MAX));
        FUZZ_CHECK(strlen(LOCKBOX_REMOTE_USER_PREFIX) + strlen(name.name) <= LOCKBOX_NAME_MAX);
    } else {
        FUZZ_CHECK(why[0] != '\0' && strlen(why) < sizeof(why));
    }
    free(text);
    return 0;
}
