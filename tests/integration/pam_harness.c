/* Drives the built pam_lockbox.so through the real libpam (pam_start_confdir) with a scripted
 * conversation, and prints what happened as one JSON line for tests/integration/test_pam.py.
 *
 *   pam_harness --confdir DIR --service NAME --user USER [--stack auth|account|both|session]
 *               [--answer TEXT]... [--conv-fail] [--silent] [--rhost HOST] [--cycles N]
 *               [--tty TTY] [--hold SECONDS] [--pam-env NAME=VALUE]
 *
 * --stack session opens a session, prints the result at once, holds it for --hold seconds
 * (the process can be signalled meanwhile, as a login's would be), then closes it.
 *
 * Prompts are answered from the --answer list in order; once it is used up a prompt fails with
 * PAM_CONV_ERR (what EOF looks like). --conv-fail fails every conversation call. Every message
 * the module sends is recorded. --cycles N runs N pam_start/pam_acct_mgmt/pam_end cycles and
 * reports the open descriptor count before and after. --pam-env sets a variable in the PAM
 * environment, as sshd sets SSH_AUTH_INFO_0 before its stacks run. */
#include <dirent.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <security/pam_appl.h>

#define MAX_ANSWERS 16
#define MAX_RECORDED 64

struct script {
    const char *answers[MAX_ANSWERS];
    int n_answers, next_answer;
    int fail_all;
    json_object *messages; /* array of {"style","text"} */
};

static const char *style_name(int style)
{
    switch (style) {
    case PAM_PROMPT_ECHO_OFF: return "prompt_echo_off";
    case PAM_PROMPT_ECHO_ON: return "prompt_echo_on";
    case PAM_ERROR_MSG: return "error";
    case PAM_TEXT_INFO: return "info";
    }
    return "other";
}

static void record(struct script *sc, int style, const char *text)
{
    if (json_object_array_length(sc->messages) >= MAX_RECORDED)
        return;
    json_object *m = json_object_new_object();
    json_object_object_add(m, "style", json_object_new_string(style_name(style)));
    json_object_object_add(m, "text", json_object_new_string(text ? text : ""));
    json_object_array_add(sc->messages, m);
}

static int converse(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
    struct script *sc = data;

    if (n <= 0 || n > PAM_MAX_NUM_MSG)
        return PAM_CONV_ERR;
    for (int i = 0; i < n; i++)
        record(sc, msg[i]->msg_style, msg[i]->msg);
    if (sc->fail_all)
        return PAM_CONV_ERR;
    struct pam_response *out = calloc((size_t)n, sizeof(*out));
    if (out == NULL)
        return PAM_BUF_ERR;
    for (int i = 0; i < n; i++) {
        int style = msg[i]->msg_style;
        if (style != PAM_PROMPT_ECHO_ON && style != PAM_PROMPT_ECHO_OFF)
            continue;
        if (sc->next_answer >= sc->n_answers) {
            for (int k = 0; k < i; k++)
                free(out[k].resp);
            free(out);
            return PAM_CONV_ERR; /* as a terminal at EOF */
        }
        out[i].resp = strdup(sc->answers[sc->next_answer++]);
    }
    *resp = out;
    return PAM_SUCCESS;
}

static const char *code_name(int rc)
{
#define NAME(c)                                                                                    \
    case c: return #c
    switch (rc) {
        NAME(PAM_SUCCESS);
        NAME(PAM_OPEN_ERR);
        NAME(PAM_SYMBOL_ERR);
        NAME(PAM_SERVICE_ERR);
        NAME(PAM_SYSTEM_ERR);
        NAME(PAM_BUF_ERR);
        NAME(PAM_PERM_DENIED);
        NAME(PAM_AUTH_ERR);
        NAME(PAM_CRED_INSUFFICIENT);
        NAME(PAM_AUTHINFO_UNAVAIL);
        NAME(PAM_USER_UNKNOWN);
        NAME(PAM_MAXTRIES);
        NAME(PAM_NEW_AUTHTOK_REQD);
        NAME(PAM_ACCT_EXPIRED);
        NAME(PAM_SESSION_ERR);
        NAME(PAM_CRED_UNAVAIL);
        NAME(PAM_CRED_EXPIRED);
        NAME(PAM_CRED_ERR);
        NAME(PAM_CONV_ERR);
        NAME(PAM_AUTHTOK_ERR);
        NAME(PAM_ABORT);
        NAME(PAM_IGNORE);
        NAME(PAM_INCOMPLETE);
        NAME(PAM_MODULE_UNKNOWN);
        NAME(PAM_BAD_ITEM);
    }
#undef NAME
    return "PAM_OTHER";
}

static int count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    int n = 0;

    if (dir == NULL)
        return -1;
    while (readdir(dir) != NULL)
        n++;
    closedir(dir);
    return n - 3; /* ".", ".." and the directory's own descriptor */
}

struct options {
    const char *confdir, *service, *user, *stack, *rhost, *tty, *pam_env;
    int silent;
    long cycles, hold;
};

static int start(const struct options *o, struct script *sc, pam_handle_t **ph)
{
    struct pam_conv conv = {converse, sc};
    int rc = pam_start_confdir(o->service, o->user, &conv, o->confdir, ph);

    if (rc == PAM_SUCCESS && o->rhost != NULL)
        rc = pam_set_item(*ph, PAM_RHOST, o->rhost);
    if (rc == PAM_SUCCESS && o->tty != NULL)
        rc = pam_set_item(*ph, PAM_TTY, o->tty);
    if (rc == PAM_SUCCESS && o->pam_env != NULL)
        rc = pam_putenv(*ph, o->pam_env);
    return rc;
}

static int run_cycles(const struct options *o, struct script *sc)
{
    int before = count_fds(), after_first = -1, last = PAM_SUCCESS;

    for (long i = 0; i < o->cycles; i++) {
        pam_handle_t *ph = NULL;
        last = start(o, sc, &ph);
        if (last == PAM_SUCCESS)
            last = pam_acct_mgmt(ph, o->silent ? PAM_SILENT : 0);
        pam_end(ph, last);
        if (i == 0)
            after_first = count_fds();
        json_object_put(sc->messages); /* keep only the last cycle's messages */
        sc->messages = json_object_new_array();
    }
    printf("{\"cycles\":%ld,\"fds_before\":%d,\"fds_after_first\":%d,\"fds_after\":%d,"
           "\"last\":\"%s\"}\n",
           o->cycles, before, after_first, count_fds(), code_name(last));
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run_once(const struct options *o, struct script *sc)
{
    pam_handle_t *ph = NULL;
    int flags = o->silent ? PAM_SILENT : 0, auth = -1, account = -1;
    int64_t t0 = now_ms();
    int rc = start(o, sc, &ph);

    if (rc != PAM_SUCCESS) {
        fprintf(stderr, "pam_harness: pam_start_confdir: %s\n", code_name(rc));
        return 2;
    }
    if (strcmp(o->stack, "auth") == 0 || strcmp(o->stack, "both") == 0)
        rc = auth = pam_authenticate(ph, flags);
    if (rc == PAM_SUCCESS && (strcmp(o->stack, "account") == 0 || strcmp(o->stack, "both") == 0))
        rc = account = pam_acct_mgmt(ph, flags);
    pam_end(ph, rc);

    json_object *out = json_object_new_object();
    json_object_object_add(out, "auth", auth < 0 ? NULL : json_object_new_string(code_name(auth)));
    json_object_object_add(out, "account",
                           account < 0 ? NULL : json_object_new_string(code_name(account)));
    json_object_object_add(out, "result", json_object_new_string(code_name(rc)));
    json_object_object_add(out, "elapsed_ms", json_object_new_int64(now_ms() - t0));
    json_object_object_add(out, "messages", json_object_get(sc->messages));
    printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
    json_object_put(out);
    return 0;
}

static int run_session(const struct options *o, struct script *sc)
{
    pam_handle_t *ph = NULL;
    int flags = o->silent ? PAM_SILENT : 0;
    int rc = start(o, sc, &ph);

    if (rc != PAM_SUCCESS) {
        fprintf(stderr, "pam_harness: pam_start_confdir: %s\n", code_name(rc));
        return 2;
    }
    int opened = pam_open_session(ph, flags);
    printf("{\"open_session\":\"%s\",\"pid\":%d}\n", code_name(opened), (int)getpid());
    fflush(stdout);
    int closed = -1;
    if (opened == PAM_SUCCESS) {
        struct timespec hold = {o->hold, 0};
        while (nanosleep(&hold, &hold) != 0) {
        }
        closed = pam_close_session(ph, flags);
        printf("{\"close_session\":\"%s\"}\n", code_name(closed));
    }
    pam_end(ph, opened);
    return 0;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: pam_harness --confdir DIR --service NAME --user USER "
            "[--stack auth|account|both|session] [--answer TEXT]... [--conv-fail] [--silent] "
            "[--rhost HOST] [--cycles N] [--tty TTY] [--hold SECONDS] [--pam-env NAME=VALUE]\n");
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"confdir", required_argument, NULL, 'c'},
                                             {"service", required_argument, NULL, 's'},
                                             {"user", required_argument, NULL, 'u'},
                                             {"stack", required_argument, NULL, 'k'},
                                             {"answer", required_argument, NULL, 'a'},
                                             {"conv-fail", no_argument, NULL, 'f'},
                                             {"silent", no_argument, NULL, 'q'},
                                             {"rhost", required_argument, NULL, 'r'},
                                             {"cycles", required_argument, NULL, 'n'},
                                             {"tty", required_argument, NULL, 't'},
                                             {"hold", required_argument, NULL, 'H'},
                                             {"pam-env", required_argument, NULL, 'e'},
                                             {NULL, 0, NULL, 0}};
    struct options o = {NULL, NULL, NULL, "account", NULL, NULL, NULL, 0, 0, 0};
    struct script sc = {{NULL}, 0, 0, 0, NULL};
    int opt;

    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': o.confdir = optarg; break;
        case 's': o.service = optarg; break;
        case 'u': o.user = optarg; break;
        case 'k': o.stack = optarg; break;
        case 'r': o.rhost = optarg; break;
        case 'f': sc.fail_all = 1; break;
        case 'q': o.silent = 1; break;
        case 'n': o.cycles = strtol(optarg, NULL, 10); break;
        case 't': o.tty = optarg; break;
        case 'e': o.pam_env = optarg; break;
        case 'H': o.hold = strtol(optarg, NULL, 10); break;
        case 'a':
            if (sc.n_answers == MAX_ANSWERS)
                return usage();
            sc.answers[sc.n_answers++] = optarg;
            break;
        default: return usage();
        }
    }
    if (o.confdir == NULL || o.service == NULL || o.user == NULL || optind != argc ||
        (strcmp(o.stack, "auth") && strcmp(o.stack, "account") && strcmp(o.stack, "both") &&
         strcmp(o.stack, "session")))
        return usage();
    sc.messages = json_object_new_array();
    int rc = strcmp(o.stack, "session") == 0 ? run_session(&o, &sc)
             : o.cycles > 0                  ? run_cycles(&o, &sc)
                                             : run_once(&o, &sc);
    json_object_put(sc.messages);
    return rc;
}
