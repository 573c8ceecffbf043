/** The session (layout, config, output, how to sign) of a command that
 * needs one. Signing (keys, minisign, Ed25519, hashes) is loaded only when an
 * operation is about to be recorded: a command that writes none (`status`,
 * a no-op `relink`) never loads it. */
import { loadConfig } from "../config/config.ts";
import { checkLayout, hostPath, layoutFor, type Layout } from "../config/paths.ts";
import type { Session } from "../switch/session.ts";
import type { GlobalFlags } from "./argv.ts";
import type { Output } from "./output.ts";

/** Build the session (layout, config, output) for commands that need one. */
export function makeSession(globals: GlobalFlags, out: Output, argv: string[]): Session {
  const overrides: Partial<Layout> = {};
  if (globals.auditDir) overrides.auditDir = globals.auditDir;
  if (globals.stateDir) overrides.stateDir = globals.stateDir;
  if (globals.config) overrides.configFile = globals.config;
  let layout = layoutFor(globals.root, overrides);
  const flagged = { auditDir: globals.auditDir !== undefined, stateDir: globals.stateDir !== undefined };
  checkLayout(layout, flagged);
  const config = loadConfig(layout.configFile, globals.config !== undefined);
  // Config paths are inside the root; flags win over config.
  if (config.auditDir && !globals.auditDir) layout = { ...layout, auditDir: hostPath(layout.root, config.auditDir) };
  if (config.stateDir && !globals.stateDir) layout = { ...layout, stateDir: hostPath(layout.root, config.stateDir) };
  if (config.auditDir || config.stateDir) checkLayout(layout, flagged);
  return { layout, config, out, dryRun: globals.dryRun, yes: globals.yes, argv, signing: async (host) => (await import("../attest/signing.ts")).signingFor(layout, config, process.env, host, globals.key) };
}
