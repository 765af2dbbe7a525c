/* conversation_ask/tell over pam_prompt(), which runs the application's conversation function. */
#include "conversation.h"

#include <stdlib.h>
#include <string.h>
#include <security/pam_ext.h>

int conversation_ask(pam_handle_t *pamh, const char *question, char *answer, size_t answer_len,
                     bool *too_long)
{
    char *response = NULL;

    *too_long = false;
    if (answer_len == 0)
        return -1;
    int rc = pam_prompt(pamh, PAM_PROMPT_ECHO_ON, &response, "%s", question);
    /* A NULL response is how many applications report EOF: treat it as a failure too. */
    if (rc != PAM_SUCCESS || response == NULL) {
        free(response);
        return -1;
    }
    size_t len = strlen(response);
    if (len >= answer_len) {
        *too_long = true;
        len = answer_len - 1;
    }
    memcpy(answer, response, len);
    answer[len] = '\0';
    free(response);
    return 0;
}

void conversation_tell(pam_handle_t *pamh, int flags, bool is_error, const char *text)
{
    if (flags & PAM_SILENT)
        return;
    (void)pam_prompt(pamh, is_error ? PAM_ERROR_MSG : PAM_TEXT_INFO, NULL, "%s", text);
}
