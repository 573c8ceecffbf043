/** What each command is — its path, arguments, summary, help and options —
 * without its code. The table (./commands.ts) pairs these with handlers
 * loaded on demand, so `--help`, `completion`, `man` and the parse of every
 * command need none of the handlers' modules; a command loads only its own
 * (bench/cli.ts: start-up of `relink` and `status`). Keep the imports here
 * light: everything this module reaches loads for every command. */
import { HOOK_INSTALL_FLAGS, HOOK_INSTALL_HELP, PRE_TRANSACTION_HOOKS } from "../pkgmgr/hooks.ts";
import { transactionCommands } from "../pkgmgr/factory.ts";
import type { CommandSpec } from "./command.ts";

const PROVIDER_HELP = "Providers: see `pkgswitch list` (coreutils, findutils, diffutils, sudo-rs, busybox, and any in <root>/etc/pkgswitch/providers.d/).";

const VERIFY_HELP = `Checks the audit record offline and exits with a code playbooks branch on:
  0 verified · 1 tampered or invalid (hash, chain, signature, SBOM digest, Merkle) · 2 usage error
  3 not found (unknown op id, missing artifact) · 4 unsigned, or signed by a key not trusted
  5 artifacts verify but live files differ (--deep) · 6 I/O or permission error while reading
  7 internal error: the verifier failed (a bug) and reached no verdict
  8 archived, not checked: an archive segment (\`audit archive\`) is missing (--allow-missing-archive: a warning)
When several problems are found, the code is the first of 6, 1, 3, 8, 4, 5 that applies; the report lists them all.

Modes: --op ID (one operation: chain, link to the previous operation, signature, SBOM digest, ledger entry, Merkle inclusion under the signed checkpoint); --all (default: every operation, the whole chain, no unlisted artifacts, the tree against the signed checkpoint); --bundle FILE (a bundle from \`audit export\`, on its own).
--since-checkpoint FILE also proves the log only grew since a checkpoint saved earlier (keep one off the host: tail truncation is only caught this way). --deep compares live files with each target's recorded after-state.
Trust: by default <root>/etc/pkgswitch/keys/signing.pub and trusted/*.pub; with --pubkey FILE (repeatable) only those keys. Unsigned operations fail (4) unless --allow-unsigned; legacy Ed signatures need --allow-legacy.
--record logs this verification as an operation of its own (the only time verify writes to the audit directory).`;

const DB_OPTION = { db: { type: "string" } } as const;

function pkgSpec(action: "install" | "remove"): CommandSpec {
  return {
    path: ["pkg", action],
    args: action === "install" ? "<package|/path/to/package-file…>" : "<package…>",
    maxArgs: Infinity,
    summary: `${action} packages as an attested operation`,
    help: `Runs the root's package manager (${transactionCommands(action).join(", ")}) inside the root and records provenance and before/after SHA-256 of every file of every package whose version changed (dependencies included), an SBOM with versions before and after, and any relink repairs the transaction made necessary.`,
    options: {},
  };
}

/** Keyed by the command's path (words joined by a space). */
export const SPECS = {
  "list": {
    path: ["list"],
    args: "",
    maxArgs: 0,
    summary: "list providers, whether their package is installed, whether they are enabled",
    help: "Shows every provider in the catalog for this root's package manager.",
    options: {},
  },
  "status": {
    path: ["status"],
    args: "[provider…]",
    maxArgs: Infinity,
    summary: "what is switched, and drift from the recorded state",
    help: "For each enabled provider, counts targets that are switched, drifted (no longer our link: a package upgrade or a hand edit), or missing, and whether every backup is present. Exit 0 even with drift; `relink` repairs it.",
    options: {},
  },
  "enable": {
    path: ["enable"],
    args: "<provider…>",
    maxArgs: Infinity,
    summary: "install the replacement package and switch its commands",
    help: `Installs the replacement with the package manager if needed, preflights every target (ownership, kind, setuid, replacement executable, immutable attributes, read-only and noexec mounts, hard links), runs the compatibility probes (see \`check\`; results are recorded in the operation and reused while the binaries and the corpus are unchanged), backs each one up, swaps it for a symlink atomically (the path is never missing), smoke-tests the switched commands and rolls everything back on failure. --require-compat refuses (exit 10, nothing switched) when any probe does not match. Then installs the package-manager hooks (\`pkgswitch hooks install\`) that keep the switch safe across upgrades and removals, unless --no-hooks. ${PROVIDER_HELP}`,
    options: { "require-compat": { type: "boolean" }, "no-hooks": { type: "boolean" } },
  },
  "disable": {
    path: ["disable"],
    args: "<provider…> | --all",
    maxArgs: Infinity,
    summary: "restore the original commands",
    help: "Restores every target of the provider from its backup (atomically), then forgets the provider. With --remove-package the replacement package is removed afterwards.",
    options: { all: { type: "boolean" }, "remove-package": { type: "boolean" } },
  },
  "audit list": {
    path: ["audit", "list"],
    args: "[--provider P] [--command C] [--result R] [--signature S] [--since DATE] [--until DATE] [--jsonl]",
    maxArgs: 0,
    summary: "list recorded operations (filtered)",
    help: "One line per operation in the ledger: op id, status, signature, command. Filters (all must match): --provider P (named by the operation), --command C (the command, or its first words: `enable`, `hooks install`), --result ok|failed|rolled_back|dry_run, --signature signed|unsigned|failed, --since DATE (at or after), --until DATE (before; a bare YYYY-MM-DD includes that day); DATE is YYYY-MM-DD (UTC) or an ISO 8601 time. --json streams one document whose operations are one per line; --jsonl prints one JSON object per operation per line and nothing else. Reads a cache of summaries (<state dir>/audit-list-index.jsonl) rebuilt from the record when the ledger changed; `audit verify` never uses it. Archived operations (`audit archive`) are listed too.",
    options: { provider: { type: "string" }, command: { type: "string" }, result: { type: "string" }, signature: { type: "string" }, since: { type: "string" }, until: { type: "string" }, jsonl: { type: "boolean" } },
  },
  "audit show": {
    path: ["audit", "show"],
    args: "<op_id>",
    maxArgs: 1,
    summary: "show one operation's events",
    help: "Prints a readable summary of the operation's events; --json prints the events themselves.",
    options: {},
  },
  "audit archive": {
    path: ["audit", "archive"],
    args: "--keep N | --before DATE",
    maxArgs: 0,
    summary: "move old operations' files into signed, compressed archive segments",
    help: "Moves the files of operations older than the newest N (--keep N) or recorded before DATE (--before YYYY-MM-DD or an ISO 8601 time) into segments under <audit dir>/archive/ (gzip-compressed ustar, at most 400 operations each, with a minisign .minisig when a key is configured), recorded by a signed archive operation (one archive.segment event per segment: its SHA-256 and its operations). Ledger lines, chain, Merkle tree and checkpoints are unchanged; `audit verify --all` reads the segments. Operations holding archive records are never archived. An interrupted archive is repaired by the next run: a recorded segment is finished, an unrecorded one undone. --dry-run says what would be archived. Exit 0; 2 bad usage; 10 an operation file does not match its ledger line (nothing archived; run `audit verify --all`); 30 locked; 70 unreadable or unwritable audit directory.",
    options: { keep: { type: "string" }, before: { type: "string" } },
  },


  "relink": {
    path: ["relink"],
    args: "[--hook]",
    maxArgs: 0,
    summary: "re-apply switches after package upgrades (idempotent)",
    help: `Checks every managed target without starting any process: re-applies links an upgrade overwrote, refreshes backups of originals an upgrade updated at their diverted names, re-registers missing diversions, and restores the originals of a provider whose package was removed. Writes an operation only when it changed something. ${PRE_TRANSACTION_HOOKS.map((h) => h.help).join(" ")} --hook (used by the package-manager hooks) never fails: errors are printed and the exit code is 0.`,
    options: { hook: { type: "boolean" }, ...Object.fromEntries(PRE_TRANSACTION_HOOKS.map((h) => [h.flag, { type: "boolean" as const }])) },
  },
  "hooks install": {
    path: ["hooks", "install"],
    args: `[${HOOK_INSTALL_FLAGS.map((f) => `--${f.flag}`).join("|")}] [--binary PATH]`,
    maxArgs: 0,
    summary: "install package-manager hooks that run `relink --hook`",
    help: `\`enable\` installs the hook files by default (unless --no-hooks) and disabling the last provider removes them; this command installs them by hand. ${HOOK_INSTALL_HELP} --binary is the path of pkgswitch inside the root (default: this binary when it lives inside the root, else /usr/bin/pkgswitch).`,
    options: { ...Object.fromEntries(HOOK_INSTALL_FLAGS.map((f) => [f.flag, { type: "boolean" as const }])), binary: { type: "string" } },
  },
  "hooks remove": {
    path: ["hooks", "remove"],
    args: "",
    maxArgs: 0,
    summary: "remove the hooks pkgswitch installed",
    help: "Removes only files that carry pkgswitch's marker.",
    options: {},
  },
  "pkg install": pkgSpec("install"),
  "pkg remove": pkgSpec("remove"),
  "check": {
    path: ["check"],
    args: "<provider>",
    maxArgs: 1,
    summary: "compare original and replacement commands side by side (what would break)",
    help: "Runs the compatibility probes (the built-in corpus, <root>/etc/pkgswitch/probes.d/, and the flag combinations the root's own package maintainer scripts use) with the original command and with its replacement, inside the root, in a scratch directory that is removed afterwards (LC_ALL=C, TZ=UTC, fixed fixtures). Prints, per command, same / differs / unsupported with the first difference. The replacement package must be installed; once the provider is switched the originals come from their diverted copies or backups. Records no operation; exit 0 when the probes ran, whatever they found (`enable --require-compat` is the gate).",
    options: {},
  },
  "audit verify": {
    path: ["audit", "verify"],
    args: "[--op ID | --all | --bundle FILE] [--since-checkpoint FILE] [--deep] [--pubkey FILE]…",
    maxArgs: 0,
    summary: "verify the audit record offline (signatures, chain, SBOMs, ledger, checkpoint)",
    help: VERIFY_HELP,
    options: {
      op: { type: "string" },
      all: { type: "boolean" },
      "since-checkpoint": { type: "string" },
      deep: { type: "boolean" },
      "allow-unsigned": { type: "boolean" },
      "allow-legacy": { type: "boolean" },
      "allow-missing-archive": { type: "boolean" },
      pubkey: { type: "string", multiple: true },
      bundle: { type: "string" },
      record: { type: "boolean" },
    },
  },
  "audit checkpoint": {
    path: ["audit", "checkpoint"],
    args: "[--pubkey FILE]…",
    maxArgs: 0,
    summary: "print the current signed checkpoint (keep a copy off the host)",
    help: "Prints <audit dir>/checkpoint, the C2SP signed note over the ledger's Merkle tree, after checking it as `audit verify` does: its form, its signature by a trusted key (<root>/etc/pkgswitch/keys/signing.pub and trusted/*.pub; with --pubkey FILE, repeatable, only those keys; with no key file at all, a warning that the signature was not checked), its tree size and root against the ledger lines it covers (a bad line after them is a warning; `audit verify --all` checks the rest). Keep copies elsewhere: `pkgswitch audit verify --since-checkpoint FILE` then proves the log only grew since. Exit codes as `audit verify`: 0 printed; 1 not a valid checkpoint, a signature that does not verify, or a ledger it does not match (nothing printed); 3 none (no signed operation yet); 4 signed by a key not in the trusted set (or signing.pub is not a public key); 6 unreadable (the checkpoint, the ledger or a trusted key file).",
    options: { pubkey: { type: "string", multiple: true } },
  },
  "audit export": {
    path: ["audit", "export"],
    args: "--op ID -o FILE",
    maxArgs: 0,
    summary: "write one operation's evidence as a portable bundle",
    help: "Writes one JSON file with the operation's JSONL, signature, SBOM, the public key (from the trusted set, for reference), its ledger line and the one before it, their Merkle inclusion proofs and the signed checkpoint. Verify it anywhere with `pkgswitch audit verify --bundle FILE --pubkey KEY` (trust comes from --pubkey, not from the bundle). -o - writes to stdout.",
    options: { op: { type: "string" }, output: { type: "string", short: "o" }, pubkey: { type: "string", multiple: true } },
  },
  "keys rotate": {
    path: ["keys", "rotate"],
    args: "",
    maxArgs: 0,
    summary: "replace the signing key, announced by an operation the old key signs",
    help: "Generates a new key pair, records a key.rotate operation (new key id and public key) signed by the current key, moves the old public key to trusted/<KEYID>.pub so earlier operations keep verifying, and replaces signing.key and signing.pub. Give auditors the new signing.pub; one who holds only the old key can verify the announcement.",
    options: {},
  },
  "keys generate": {
    path: ["keys", "generate"],
    args: "[--dir DIR] [--force]",
    maxArgs: 0,
    summary: "create a signing key pair (minisign format)",
    help: "Writes signing.key (0600, unencrypted) and signing.pub to DIR (default <root>/etc/pkgswitch/keys). Refuses to overwrite an existing key without --force; with --force the old public key moves to trusted/<KEYID>.pub so what it signed still verifies (prefer `keys rotate`, which also records the change). A key made by `minisign -G` works as well.",
    options: { dir: { type: "string" }, force: { type: "boolean" } },
  },
  "keys show": {
    path: ["keys", "show"],
    args: "[--pubkey FILE]",
    maxArgs: 0,
    summary: "print the key id and public key",
    help: "Shows the public key that verifies this host's operations (default <root>/etc/pkgswitch/keys/signing.pub, with a warning when the signing.key beside it cannot be used; or the one derived from --key, which refuses a damaged key: exit 2).",
    options: { pubkey: { type: "string", multiple: true } },
  },
  "fleet init": {
    path: ["fleet", "init"],
    args: "--db URL [--timeout MS]",
    maxArgs: 0,
    summary: "create or migrate the fleet ledger schema in PostgreSQL",
    help: "Run as the database owner. Creates the schema `pkgswitch` (hosts and their keys, operations, checkpoints, alarms), the group roles pkgswitch_host (SELECT and INSERT only: what hosts log in as) and pkgswitch_reader (fleet verify/status), and triggers that refuse UPDATE, DELETE and TRUNCATE on every evidence table. Migrations are versioned; running it again applies only what is missing. The password comes from PGPASSWORD or a pgpass file, never from the URL. --timeout gives up after MS milliseconds (default 30000; exit 6, the open migration rolled back). See docs/fleet.md.",
    options: { ...DB_OPTION, timeout: { type: "string" } },
  },
  "audit push": {
    path: ["audit", "push"],
    args: "[--db URL] [--timeout MS] [--batch N]",
    maxArgs: 0,
    summary: "send this host's audit record to the fleet database (append-only)",
    help: `Sends, in ledger order and in batches, the operations the fleet database does not hold yet, then the signed checkpoint with an RFC 9162 consistency proof from the last one it holds. Idempotent; a push killed at any point is finished by the next. If this host's history is not an extension of what the fleet holds (rewritten or truncated), nothing is sent, an alarm row naming the host and the first differing seq is recorded, and the exit code is 1. Nothing in the audit directory changes. --db defaults to "fleetDb" in the config; the password comes from PGPASSWORD or a pgpass file. --timeout gives up after MS milliseconds (exit 6); without it, when the database has not answered for 30 s since the last committed batch. --batch sets the operations per round trip (default 500; a batch is also cut at 16 MiB).
Exit codes: 0 pushed or nothing to push · 1 refused: history rewritten (alarm recorded) · 2 usage · 3 nothing recorded here, or no fleet schema · 6 database unreachable, login refused or I/O error.`,
    options: { ...DB_OPTION, timeout: { type: "string" }, batch: { type: "string" } },
  },
  "fleet verify": {
    path: ["fleet", "verify"],
    args: "[--db URL] [--host H] [--allow-unsigned] [--timeout MS]",
    maxArgs: 0,
    summary: "re-verify every host's evidence from the fleet database alone",
    help: `For each host (or --host H): every operation's chain, link, signature (with the keys the fleet holds for the host, each from the operation that announced it), SBOM digest and ledger line; every checkpoint it ever pushed (signature, Merkle root of the held ledger, consistency with the previous one and the stored proof); open alarms. Exit codes as \`audit verify\`: 0 verified · 1 tampered, or an open alarm · 2 usage · 3 not found · 4 unsigned or untrusted · 6 database unreachable or I/O, or silent for --timeout MS (default 30000; counted from its last answer).`,
    options: { ...DB_OPTION, host: { type: "string" }, "allow-unsigned": { type: "boolean" }, timeout: { type: "string" } },
  },
  "fleet status": {
    path: ["fleet", "status"],
    args: "[--db URL] [--silent-days N] [--timeout MS]",
    maxArgs: 0,
    summary: "per host: providers enabled, last operation, unsigned/failed operations, silence, alarms",
    help: "From the fleet database's summary of each host's evidence (fleet verify checks it against the events): the providers enabled by successful enable/disable operations, the last operation and its result, how many operations are unsigned or did not succeed, when the host last did something, and open (unacknowledged) alarms. A host whose last operation is older than --silent-days (default 7) is marked silent. Exit 0; 3 without a fleet schema; 6 when the database cannot be reached or has not answered within --timeout MS (default 30000).",
    options: { ...DB_OPTION, "silent-days": { type: "string" }, timeout: { type: "string" } },
  },
  "completion": {
    path: ["completion"],
    args: "<bash|zsh|fish>",
    maxArgs: 1,
    summary: "print a shell completion script",
    help: "Example: pkgswitch completion bash > /etc/bash_completion.d/pkgswitch",
    options: {},
  },
  "man": {
    path: ["man"],
    args: "",
    maxArgs: 0,
    summary: "print the man page (roff)",
    help: "Example: pkgswitch man > /usr/local/share/man/man8/pkgswitch.8",
    options: {},
  },
} satisfies Record<string, CommandSpec>;
