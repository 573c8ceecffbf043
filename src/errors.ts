/** Exit codes (design/formats.md). Playbooks branch on these: never renumber. */
export const Exit = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  PREFLIGHT: 10,
  PKGMGR: 20,
  LOCKED: 30,
  ROLLED_BACK: 40,
  ROLLBACK_INCOMPLETE: 50,
  BACKUP_MISSING: 60,
  PERMISSION: 70,
  /** state.json cannot be parsed: nothing acts on it (since 0.2.0). */
  STATE_CORRUPT: 80,
  /** `enable` switched the commands (recorded, op.end status "ok") but could
   * not install the package-manager hooks: `pkgswitch hooks install` (since 0.4.1). */
  HOOKS_NOT_INSTALLED: 90,
} as const;

/** `audit verify` exit codes (design/formats.md). */
export const VerifyExit = {
  OK: 0,
  TAMPERED: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  UNTRUSTED: 4,
  LIVE_DRIFT: 5,
  IO: 6,
  /** The verifier itself failed (a bug): no verdict was reached. Never 1,
   * which a playbook reads as "tampered" (since 0.2.0). */
  INTERNAL: 7,
  /** Archived operations whose segment is missing were not checked
   * (`audit archive`; --allow-missing-archive makes it a warning) (since 0.4.0). */
  ARCHIVED: 8,
} as const;

/** A pkgswitch exit code (the union of the documented values, never a bare number). */
export type ExitCode = (typeof Exit)[keyof typeof Exit];
/** An `audit verify` exit code. */
export type VerifyExitCode = (typeof VerifyExit)[keyof typeof VerifyExit];
/** What a command can exit with. */
export type CommandExit = ExitCode | VerifyExitCode;

/** An expected failure with its documented exit code and a one-line message
 * that says what failed and where, and what to do about it (in the same
 * line: playbooks and tests read exactly one). Anything else thrown is a
 * bug (exit 1). */
export class PkgswitchError extends Error {
  constructor(
    readonly exitCode: CommandExit,
    message: string,
    readonly opId?: string,
  ) {
    super(message);
    this.name = "PkgswitchError";
  }
}

export const usageError = (msg: string) => new PkgswitchError(Exit.USAGE, msg);
