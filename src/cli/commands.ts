/** The command table: each command's usage and options (./specs.ts) and its
 * handler, loaded on demand. Handlers return an exit code; expected
 * failures throw PkgswitchError.
 *
 * Why on demand: this table is loaded by every command, and a static import
 * of every handler brought in most of the code base (signing, the audit
 * writer, archives, verification: node:crypto, node:zlib, …) before any
 * command ran. Each handler is a dynamic import of the module that
 * implements it; the build (--splitting) gives each its own chunk, so a
 * command evaluates only the modules it reaches (bench/cli.ts). */
import { fullJit } from "../sys/index.ts";
import type { Command } from "./command.ts";
import { SPECS } from "./specs.ts";

type Handler = Command["run"];

/** A handler that loads its module on first call. */
function later<M>(load: () => Promise<M>, pick: (m: M) => Handler): Handler {
  return async (ctx) => pick(await load())(ctx);
}

/** Commands whose whole run is about as long as their start-up — a no-op
 * `relink` (after every package transaction), `status`, `list` — keep the
 * binary's raised JIT thresholds (src/sys: fullJit): compiling what they run
 * a few hundred times costs more than it saves. Every other command loops
 * over thousands of events, files or probes, and gets the normal JIT. */
const BRIEF = new Set(["list", "status", "relink"]);

function jitFor(c: Command): Command {
  return BRIEF.has(c.path.join(" ")) ? c : { ...c, run: (ctx) => (fullJit(), c.run(ctx)) };
}

const info = () => import("./info.ts");
const switching = () => import("./switching.ts");
const audit = () => import("./audit.ts");
const relink = () => import("./relink.ts");
const lifecycle = () => import("./lifecycle.ts");
const check = () => import("./check.ts");
const verify = () => import("./verify.ts");
const keys = () => import("./attest.ts");
const fleet = () => import("./fleet.ts");
const docs = () => import("./docs.ts");

export const COMMANDS: Command[] = [
  { ...SPECS.list, run: later(info, (m) => m.cmdList) },
  { ...SPECS.status, run: later(info, (m) => m.cmdStatus) },
  { ...SPECS.enable, run: later(switching, (m) => m.cmdEnable) },
  { ...SPECS.disable, run: later(switching, (m) => m.cmdDisable) },
  { ...SPECS["audit list"], run: later(audit, (m) => m.cmdAuditList) },
  { ...SPECS["audit show"], run: later(audit, (m) => m.cmdAuditShow) },
  { ...SPECS["audit archive"], run: later(audit, (m) => m.cmdAuditArchive) },
  { ...SPECS.relink, run: later(relink, (m) => m.cmdRelink) },
  { ...SPECS["hooks install"], run: later(lifecycle, (m) => m.cmdHooksInstall) },
  { ...SPECS["hooks remove"], run: later(lifecycle, (m) => m.cmdHooksRemove) },
  { ...SPECS["pkg install"], run: later(lifecycle, (m) => m.cmdPkg("install")) },
  { ...SPECS["pkg remove"], run: later(lifecycle, (m) => m.cmdPkg("remove")) },
  { ...SPECS.check, run: later(check, (m) => m.cmdCheck) },
  { ...SPECS["audit verify"], run: later(verify, (m) => m.cmdAuditVerify) },
  { ...SPECS["audit checkpoint"], run: later(verify, (m) => m.cmdAuditCheckpoint) },
  { ...SPECS["audit export"], run: later(verify, (m) => m.cmdAuditExport) },
  { ...SPECS["keys rotate"], run: later(keys, (m) => m.cmdKeysRotate) },
  { ...SPECS["keys generate"], run: later(keys, (m) => m.cmdKeysGenerate) },
  { ...SPECS["keys show"], run: later(keys, (m) => m.cmdKeysShow) },
  { ...SPECS["fleet init"], run: later(fleet, (m) => m.cmdFleetInit) },
  { ...SPECS["audit push"], run: later(fleet, (m) => m.cmdAuditPush) },
  { ...SPECS["fleet verify"], run: later(fleet, (m) => m.cmdFleetVerify) },
  { ...SPECS["fleet status"], run: later(fleet, (m) => m.cmdFleetStatus) },
  { ...SPECS.completion, run: later(docs, (m) => (ctx) => m.cmdCompletion(ctx, COMMANDS)) },
  { ...SPECS.man, run: later(docs, (m) => (ctx) => m.cmdMan(ctx, COMMANDS)) },
].map(jitFor);

export { makeSession } from "./session.ts";
export { Exit } from "../errors.ts";
