/* lockboxctl's shared state and the entry points of its commands: main.c parses the global
 * options into struct cli and hands the rest of argv to one command function. */
#ifndef LOCKBOXCTL_CLI_H
#define LOCKBOXCTL_CLI_H
#include <getopt.h>
#include <stdbool.h>

enum cli_exit {
    CLI_OK = 0,    /* success */
    CLI_FAIL = 1,  /* refused or failed: one line on stderr says why */
    CLI_USAGE = 2, /* the command line is wrong */
};

struct remote_target;

struct cli {
    const char *socket_path; /* --socket, else LOCKBOX_SOCKET, else the default */
    bool socket_flag;        /* --socket was given (it beats LOCKBOX_SERVER and client.conf) */
    bool socket_env;         /* LOCKBOX_SOCKET is set */
    /* Remote use (lockboxctl(1), REMOTE USE): the options as given, NULL when absent. */
    const char *server_flag, *cert_flag, *key_flag, *ca_flag;
    const char *server_env;       /* LOCKBOX_SERVER */
    struct remote_target *target; /* decided on the first call to lockboxd (api.c) */
    bool json;                    /* --json: machine-readable output */
    bool color;                   /* stdout is a tty and NO_COLOR is unset */
    bool stderr_tty;              /* status lines while waiting */
    int columns;                  /* terminal width for tables ($COLUMNS or 120 when not a tty) */
};

/* Options every command accepts after its name too; their getopt values. */
enum cli_common_option {
    OPT_JSON = 1000,
    OPT_SOCKET,
    OPT_HELP,
    OPT_SERVER,
    OPT_CERT,
    OPT_KEY,
    OPT_CA,
};
#define CLI_COMMON_LONG_OPTIONS                                                                    \
    {"json", no_argument, NULL, OPT_JSON}, {"socket", required_argument, NULL, OPT_SOCKET},        \
        {"server", required_argument, NULL, OPT_SERVER},                                           \
        {"cert", required_argument, NULL, OPT_CERT}, {"key", required_argument, NULL, OPT_KEY},    \
        {"ca", required_argument, NULL, OPT_CA},                                                   \
    {                                                                                              \
        "help", no_argument, NULL, OPT_HELP                                                        \
    }

/* Handles a common option or getopt's error return for `command`. Returns -1 when the option
 * was handled and parsing goes on, otherwise the exit code the command must return now
 * (CLI_OK after --help, CLI_USAGE after an error). */
int cli_common_option(struct cli *cli, const char *command, int opt, char **argv);
/* Applies --socket; returns 0 or -1 (after a usage message) when the path is unusable. */
int cli_set_socket(struct cli *cli, const char *path);
/* Checks a server URL from the command line or LOCKBOX_SERVER (named by `origin`); returns 0
 * or -1 after a usage message. */
int cli_check_server(const char *origin, const char *url);

/* Prints a command's help text to stdout. Returns false for an unknown command. */
bool cli_print_command_help(const char *command);

/* "lockboxctl: MESSAGE" on stderr; returns CLI_FAIL. MESSAGE must already be escaped. */
int cli_fail(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* "lockboxctl COMMAND: MESSAGE (see lockboxctl COMMAND --help)" on stderr; returns CLI_USAGE. */
int cli_usage(const char *command, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* Checks a whole request id (32 lowercase hex characters), as lockboxd sends them. */
bool cli_is_request_id(const char *text);
/* Checks what a user may type for a request id: a whole id, or a prefix of at least
 * CLI_ID_PREFIX_MIN characters (as in git) that api_resolve_request_id() completes. */
#define CLI_ID_PREFIX_MIN 6
bool cli_is_id_argument(const char *text);
#define CLI_ID_USAGE                                                                               \
    "a request id is 32 lowercase hex characters, or a unique prefix of at least 6 of them"

/* The commands: argv[0] is the command's name; each returns an enum cli_exit. */
int cmd_list(struct cli *cli, int argc, char **argv);
int cmd_show(struct cli *cli, int argc, char **argv);
int cmd_approve(struct cli *cli, int argc, char **argv);
int cmd_deny(struct cli *cli, int argc, char **argv);
int cmd_revoke(struct cli *cli, int argc, char **argv);
int cmd_request(struct cli *cli, int argc, char **argv);
int cmd_wait(struct cli *cli, int argc, char **argv);
int cmd_audit(struct cli *cli, int argc, char **argv);
int cmd_key(struct cli *cli, int argc, char **argv);
int cmd_grant(struct cli *cli, int argc, char **argv);

#endif
