/* The --help texts: one for the program and one per command, kept beside each other so that
 * they read as one reference (the man page says the same at length). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct command_help {
    const char *name;
    const char *text;
};

static const struct command_help command_helps[] = {
    {"list", "Usage: lockboxctl [GLOBAL OPTIONS] list [--state STATE] [--tenant T] [--user U]\n"
             "                                        [--host H] [--wide]\n"
             "List requests you may read, newest first (default: pending ones).\n"
             "Ids are shortened: any unique prefix of 6 or more characters works as an id.\n"
             "AGE is how long ago a request was filed; LEFT how long until it lapses (pending)\n"
             "or its access ends (approved). STATE shows with --state all, TENANT when the\n"
             "rows are of more than one tenant. A * after an id marks your own pending\n"
             "request: another admin must decide it.\n\n"
             "  --state STATE   pending (default), approved, denied, expired, revoked or all\n"
             "  --tenant T      only requests for tenant T\n"
             "  --user U        only requests for user U\n"
             "  --host H        only requests for host H (a central keeps many hosts')\n"
             "  --wide          whole ids, every column, nothing cut to the terminal's width\n"
             "  --json          print a JSON array of request objects\n"},
    {"show", "Usage: lockboxctl [GLOBAL OPTIONS] show ID\n"
             "Show one request in full, with its notifications and login sessions.\n"
             "ID is a request id, or a unique prefix of at least 6 characters (as in git).\n\n"
             "  --json          print the request as one JSON object\n"},
    {"approve",
     "Usage: lockboxctl [GLOBAL OPTIONS] approve ID [--comment TEXT] [--for DURATION]\n"
     "                  [--key FILE [--name NAME] [--passphrase-file FILE]]\n"
     "Approve a pending request (tenant admins only; never your own).\n"
     "ID is a request id or a unique prefix of at least 6 of its characters.\n\n"
     "  --comment TEXT          why (shown to the engineer, kept in the audit log)\n"
     "  --for DURATION          grant less than the daemon's access_ttl: 90m, 2h, 1d\n"
     "                          (with --key: the window of a new statement, default 1h)\n"
     "  --key FILE              sign the request's grant with your approver key (tenants\n"
     "                          with signed_approvals = required); signs the statement\n"
     "                          another approver started, if any\n"
     "  --name NAME             the name your key is pinned under (default: login name)\n"
     "  --passphrase-file FILE  the key's passphrase (first line; mode 0600)\n"
     "  --json                  print the updated request as JSON\n"},
    {"deny", "Usage: lockboxctl [GLOBAL OPTIONS] deny ID [--comment TEXT]\n"
             "Deny a pending request (tenant admins only; never your own). To end access that\n"
             "was approved, revoke it. ID may be a unique prefix of at least 6 characters.\n\n"
             "  --comment TEXT  why (shown to the engineer, kept in the audit log)\n"
             "  --json          print the updated request as JSON\n"},
    {"revoke", "Usage: lockboxctl [GLOBAL OPTIONS] revoke ID [--comment TEXT]\n"
               "End approved access now (tenant admins only).\n"
               "ID may be a unique prefix of at least 6 characters.\n\n"
               "  --comment TEXT  why (kept in the audit log, and shown on the terminals of the\n"
               "                  sessions it ends)\n"
               "  --json          print the updated request as JSON\n"},
    {"request",
     "Usage: lockboxctl [GLOBAL OPTIONS] request --reason TEXT [--tenant T] [--host H]\n"
     "File a request for access as yourself, ahead of logging in.\n"
     "If you already have a pending request for that tenant and host, it is shown instead.\n\n"
     "  --reason TEXT   justification, e.g. a ticket: \"INC-4711 disk full\" (required)\n"
     "  --tenant T      tenant whose data you need (default: the daemon's tenant)\n"
     "  --host H        host you will log in to (default: the daemon's own; another\n"
     "                  host only at central, with --server)\n"
     "  --json          print the request as JSON\n"},
    {"wait", "Usage: lockboxctl [GLOBAL OPTIONS] wait ID [--timeout SECONDS]\n"
             "Block until a request is decided. Exit status 0 only if it was approved.\n"
             "ID may be a unique prefix of at least 6 characters.\n\n"
             "  --timeout SECONDS  give up after this long (default: until decided or expired;\n"
             "                     0 checks once without waiting)\n"
             "  --json             print the final request as JSON\n"},
    {"audit",
     "Usage: lockboxctl [GLOBAL OPTIONS] audit [--file PATH ...] [--since TIME] [--json]\n"
     "       lockboxctl [GLOBAL OPTIONS] audit verify [--file PATH ... | --database]\n"
     "                                                [--keys FILE [--required N]]\n"
     "       lockboxctl [GLOBAL OPTIONS] audit export --tenant NAME [--after SEQ]\n"
     "                                                [--output FILE]\n"
     "       lockboxctl [GLOBAL OPTIONS] audit verify EXPORT [--head SEQ:HASH]\n"
     "                                                [--trust-format-1] [--keys FILE]\n"
     "       lockboxctl [GLOBAL OPTIONS] audit head\n"
     "Show audit records, one per line (from lockboxd, or from files), or verify the chain.\n\n"
     "  --file PATH     read this audit file; repeat for rotated files, oldest first\n"
     "  --since TIME    only records at or after TIME: a time ago (1h, 2d) or RFC 3339\n"
     "                  (2026-11-25T12:00:00Z)\n"
     "  --json          print the records' exact JSON lines (verify: a JSON result)\n\n"
     "verify checks the hash chain and names the first record that was altered, removed,\n"
     "inserted or reordered. Without --file it verifies the daemon's current audit file\n"
     "and compares its end with the head lockboxd holds, so a removed tail is found too.\n"
     "--database verifies the chain in lockboxd's database instead (root; with PostgreSQL\n"
     "the chain every lockboxd appends to, which the audit files mirror).\n"
     "--keys FILE (files and exports) also checks every record's signed grant against the\n"
     "tenant's pinned approver keys as of the record's time, and names the first that fails;\n"
     "--required N: an approval needs N signers that count (the tenant's approvals_required).\n\n"
     "export writes one tenant's audit trail (root or an admin of NAME): its own records\n"
     "whole, every other record only as hashes, a header and a trailer with the head.\n"
     "  --tenant NAME   the tenant to export\n"
     "  --after SEQ     start after this record (default: from the first)\n"
     "  --output FILE   create FILE (never overwritten); default: standard output\n"
     "verify of an export file (its first line says so) runs offline, without root:\n"
     "  --head SEQ:HASH a head kept earlier (from 'audit head'): the chain must pass\n"
     "                  through it; without one, a rewritten history or a cut tail that\n"
     "                  was hashed anew cannot be told from the truth\n"
     "  --trust-format-1 accept withheld records from before format 2 (hashes taken on\n"
     "                  trust) even when none of your records shows where format 2 began\n"
     "head prints the head lockboxd holds (SEQ HASH): keep it in your own records.\n"},
    {"key",
     "Usage: lockboxctl key generate [--name NAME] [--output FILE] [--passphrase-file FILE]\n"
     "       lockboxctl key show --key FILE [--name NAME] [--passphrase-file FILE]\n"
     "An approver's Ed25519 key for signing grants, kept on the approver's own machine.\n"
     "Both print the public key line the tenant pins in its approver keys file:\n"
     "NAME ed25519 BASE64 (see lockboxctl(1), KEYS AND GRANTS).\n\n"
     "  --name NAME            the approver's name in that line (default: your login name)\n"
     "  --output FILE          where generate writes the private key (default: NAME.key);\n"
     "                         created with mode 0600, never overwritten\n"
     "  --key FILE             the private key to show (PEM, mode 0600)\n"
     "  --passphrase-file FILE the first line of FILE encrypts (generate) or decrypts the\n"
     "                         private key; the file must be mode 0600 too\n"
     "  --json                 print name, key_id and the line as JSON\n"},
    {"grant",
     "Usage: lockboxctl grant verify --keys FILE [--at TIME] [--required N] GRANT_FILE\n"
     "       lockboxctl grant sign --key FILE [--name NAME] [--passphrase-file FILE]\n"
     "                             GRANT_FILE\n"
     "Check or sign a grant: a statement that a tenant's approvers signed with their keys.\n"
     "verify works offline: it checks every signature against the tenant's pinned keys and\n"
     "says whether the grant allows access at TIME. Exit status 0 valid, 1 not valid (or\n"
     "not a grant), 2 usage error. sign adds your signature to the file.\n\n"
     "  --keys FILE            the tenant's pinned approver keys (NAME ed25519 BASE64 lines)\n"
     "  --at TIME              verify as of this RFC 3339 UTC time (default: now); a key\n"
     "                         revoked by then does not count\n"
     "  --required N           distinct approvers needed (default 1); the user and the\n"
     "                         requester the statement names never count\n"
     "  --key FILE             your private key (sign)\n"
     "  --name NAME            your name as the keys file pins it (default: login name)\n"
     "  --passphrase-file FILE decrypts the private key (sign)\n"
     "  --json                 verify: print the result as JSON\n"},
};

static const char global_help[] =
    "Usage: lockboxctl [--socket PATH | --server URL [--cert FILE --key FILE --ca FILE]]\n"
    "                  [--json] COMMAND [ARGS...]\n"
    "Decide and inspect Lockbox access requests.\n\n"
    "Commands:\n"
    "  list       list requests (default: pending)\n"
    "  show       show one request\n"
    "  approve    approve a pending request\n"
    "  deny       deny a pending request\n"
    "  revoke     end approved access\n"
    "  request    file a request for yourself\n"
    "  wait       wait until a request is decided\n"
    "  audit      show audit records; `audit verify` checks the chain, `audit export`\n"
    "             writes a tenant's trail to verify, `audit head` the head to keep\n"
    "  key        make or show an approver's signing key\n"
    "  grant      verify or sign a signed grant (offline)\n\n"
    "Global options:\n"
    "  --socket PATH  lockboxd's socket (default: $LOCKBOX_SOCKET, else "
    "/run/lockbox/lockboxd.sock)\n"
    "  --server URL   a remote lockboxd: https://HOST:PORT (default: $LOCKBOX_SERVER, else\n"
    "                 server = in ~/.config/lockbox/client.conf); not with --socket\n"
    "  --cert FILE    your client certificate (PEM) for --server (client.conf: certificate =)\n"
    "  --key FILE     its private key (PEM, mode 600; client.conf: key =)\n"
    "  --ca FILE      the CA lockboxd's certificate must be signed by; no other CA is\n"
    "                 trusted (client.conf: ca =)\n"
    "  --json         machine-readable output (also accepted after the command)\n"
    "  --help         this help; `lockboxctl COMMAND --help` for a command\n"
    "  --version      print the version\n\n"
    "Exit status: 0 success, 1 refused or failed, 2 usage error.\n";

bool cli_print_command_help(const char *command)
{
    if (command == NULL) {
        fputs(global_help, stdout);
        return true;
    }
    for (size_t i = 0; i < sizeof(command_helps) / sizeof(command_helps[0]); i++) {
        if (strcmp(command_helps[i].name, command) == 0) {
            fputs(command_helps[i].text, stdout);
            fputs("\nGlobal options --socket PATH, --server URL, --cert, --key, --ca and --json\n"
                  "work here too.\n",
                  stdout);
            return true;
        }
    }
    return false;
}
