/* Talking to the person logging in through the application's PAM conversation. */
#ifndef PAM_LOCKBOX_CONVERSATION_H
#define PAM_LOCKBOX_CONVERSATION_H
#include <stdbool.h>
#include <stddef.h>
#include <security/pam_appl.h>

/* Asks one PAM_PROMPT_ECHO_ON question. Returns 0 with the answer copied into answer (cut at
 * answer_len - 1 bytes; *too_long says so), or -1 when the conversation failed (PAM_CONV_ERR,
 * PAM_ABORT, no answer: EOF or Ctrl-C in most applications). */
int conversation_ask(pam_handle_t *pamh, const char *question, char *answer, size_t answer_len,
                     bool *too_long);

/* Shows one line as PAM_TEXT_INFO, or PAM_ERROR_MSG when is_error. Sends nothing under
 * PAM_SILENT; a failure to show is ignored (the decision does not depend on it). */
void conversation_tell(pam_handle_t *pamh, int flags, bool is_error, const char *text);

#endif
