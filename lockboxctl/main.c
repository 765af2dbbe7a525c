/* lockboxctl: parses the global options, picks the command and runs it. Each command parses
 * its own options with getopt_long (see the commands_*.c and audit_*.c files). */
#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "lockbox_limits.h"
#include "output.h"
#include "random_id.h"
#include "remote.h"
#include "text.h"

struct command {
    const char *name;
    int (*run)(struct cli *cli, int argc, char **argv);
};

static const struct command commands[] = {
    {"list", cmd_list},   {"show", cmd_show},     {"approve", cmd_approve},
    {"deny", cmd_deny},   {"revoke", cmd_revoke}, {"request", cmd_request},
    {"wait", cmd_wait},   {"audit", cmd_audit},   {"key", cmd_key},
    {"grant", cmd_grant},
};

int cli_fail(const char *format, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("lockboxctl: ", stderr);
    va_start(ap, format);
    vfprintf(stderr, format, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_FAIL;
}

int cli_usage(const char *command, const char *format, ...)
{
    va_list ap;

    fprintf(stderr, "lockboxctl%s%s: ", command ? " " : "", command ? command : "");
    va_start(ap, format);
    vfprintf(stderr, format, ap);
    va_end(ap);
    fprintf(stderr, " (see lockboxctl%s%s --help)\n", command ? " " : "", command ? command : "");
    return CLI_USAGE;
}

bool cli_is_request_id(const char *text)
{
    return text_is_request_id(text, strlen(text));
}

bool cli_is_id_argument(const char *text)
{
    return random_id_is_prefix(text, CLI_ID_PREFIX_MIN);
}

int cli_set_socket(struct cli *cli, const char *path)
{
    if (path[0] == '\0' || strlen(path) > LOCKBOX_PATH_MAX) {
        char shown[OUT_ESCAPED_MAX];
        cli_usage(NULL, "the socket must be a path of 1-%d bytes, not '%s'", LOCKBOX_PATH_MAX,
                  out_escape(path, "", shown, sizeof(shown)));
        return -1;
    }
    cli->socket_path = path;
    return 0;
}

int cli_check_server(const char *origin, const char *url)
{
    char base[LOCKBOX_SERVER_URL_MAX + 16], why[256], shown[OUT_ESCAPED_MAX];

    if (strlen(url) > LOCKBOX_SERVER_URL_MAX) {
        cli_usage(NULL, "%s is longer than %d bytes", origin, LOCKBOX_SERVER_URL_MAX);
        return -1;
    }
    if (lockbox_server_url_check(url, base, sizeof(base), why, sizeof(why)) != 0) {
        cli_usage(NULL, "%s '%s': %s", origin, out_escape(url, "", shown, sizeof(shown)), why);
        return -1;
    }
    return 0;
}

/* --cert, --key and --ca: a file name, checked when it is used (api.c). */
static int set_tls_file(const char *command, const char *option, const char *value,
                        const char **field)
{
    if (value[0] == '\0' || strlen(value) > LOCKBOX_PATH_MAX)
        return cli_usage(command, "%s must be a path of 1-%d bytes", option, LOCKBOX_PATH_MAX);
    *field = value;
    return -1;
}

/* Local and remote are two doors: naming both is a mistake the user should hear about. */
static int set_door(struct cli *cli, const char *command, int opt)
{
    if ((opt == OPT_SOCKET && cli->server_flag != NULL) || (opt == OPT_SERVER && cli->socket_flag))
        return cli_usage(command, "--socket and --server cannot be used together: --socket for "
                                  "the local lockboxd, --server for a remote one");
    if (opt == OPT_SOCKET) {
        if (cli_set_socket(cli, optarg) != 0)
            return CLI_USAGE;
        cli->socket_flag = true;
        return -1;
    }
    if (cli_check_server("--server", optarg) != 0)
        return CLI_USAGE;
    cli->server_flag = optarg;
    return -1;
}

/* The offending word after a getopt error, escaped: it may hold anything the shell passed. */
static const char *bad_option(char **argv, char *out, size_t out_len)
{
    const char *word = optind > 0 ? argv[optind - 1] : "";

    if (strncmp(word, "--", 2) == 0) {
        char long_form[128];
        snprintf(long_form, sizeof(long_form), "%.*s", (int)strcspn(word, "="), word);
        return out_escape(long_form, "", out, out_len);
    }
    if (optopt > 0 && optopt < 128 && isprint(optopt)) {
        char short_form[3] = {'-', (char)optopt, '\0'};
        return out_escape(short_form, "", out, out_len);
    }
    return out_escape(word, "", out, out_len);
}

int cli_common_option(struct cli *cli, const char *command, int opt, char **argv)
{
    char shown[OUT_ESCAPED_MAX];

    switch (opt) {
    case OPT_JSON: cli->json = true; return -1;
    case OPT_SOCKET:
    case OPT_SERVER: return set_door(cli, command, opt);
    case OPT_CERT: return set_tls_file(command, "--cert", optarg, &cli->cert_flag);
    case OPT_KEY: return set_tls_file(command, "--key", optarg, &cli->key_flag);
    case OPT_CA: return set_tls_file(command, "--ca", optarg, &cli->ca_flag);
    case OPT_HELP: cli_print_command_help(command); return CLI_OK;
    case ':':
        return cli_usage(command, "option '%s' needs a value",
                         bad_option(argv, shown, sizeof(shown)));
    default:
        return cli_usage(command, "unknown option '%s'", bad_option(argv, shown, sizeof(shown)));
    }
}

static int run_command(struct cli *cli, int argc, char **argv)
{
    char shown[OUT_ESCAPED_MAX];

    if (strcmp(argv[0], "help") == 0) {
        if (argc > 1 && !cli_print_command_help(argv[1]))
            return cli_usage(NULL, "no command '%s'",
                             out_escape(argv[1], "", shown, sizeof(shown)));
        if (argc == 1)
            cli_print_command_help(NULL);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, argv[0]) == 0) {
            optind = 0; /* glibc: restart getopt for the command's own options */
            return commands[i].run(cli, argc, argv);
        }
    }
    return cli_usage(NULL, "unknown command '%s'", out_escape(argv[0], "", shown, sizeof(shown)));
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_COMMON_LONG_OPTIONS,
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    static struct remote_target target;
    struct cli cli = {
        .socket_path = LOCKBOX_DEFAULT_SOCKET,
        .target = &target,
        .color = out_want_color(),
        .stderr_tty = isatty(STDERR_FILENO),
        .columns = out_terminal_columns(),
    };
    const char *from_env = getenv("LOCKBOX_SOCKET");
    int opt;

    if (from_env != NULL && from_env[0] != '\0') {
        if (cli_set_socket(&cli, from_env) != 0)
            return CLI_USAGE;
        cli.socket_env = true;
    }
    from_env = getenv("LOCKBOX_SERVER");
    if (from_env != NULL && from_env[0] != '\0') {
        if (cli_check_server("LOCKBOX_SERVER", from_env) != 0)
            return CLI_USAGE;
        cli.server_env = from_env;
    }
    opterr = 0;
    /* "+": stop at the command; what follows belongs to it. */
    while ((opt = getopt_long(argc, argv, "+:", options, NULL)) != -1) {
        if (opt == 'V') {
            printf("lockboxctl %s\n", LOCKBOX_VERSION);
            return CLI_OK;
        }
        int rc = cli_common_option(&cli, NULL, opt, argv);
        if (rc != -1)
            return rc;
    }
    if (optind >= argc)
        return cli_usage(NULL, "no command given");
    return run_command(&cli, argc - optind, argv + optind);
}
