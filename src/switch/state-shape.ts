/** The shape of a loaded state.json, checked whole before anything acts on
 * it: the file is untrusted input (the root's owner can edit it), and a
 * field of the wrong type found half-way through a disable or relink would
 * leave the targets half restored. Paths are checked by state.ts
 * (untrustedPath); this checks every other field the commands read. */
import { OP_ID_RE } from "../audit/opid.ts";

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
/** Provider names as the catalog allows them (no `/`, no leading dot). */
const NAME_RE = /^[a-z0-9][a-z0-9._+-]*$/;
/** A package name as the package managers spell them: never an option (no leading `-`). */
const PACKAGE_RE = /^[A-Za-z0-9][A-Za-z0-9+._@:~-]*$/;
const SHA256_RE = /^[0-9a-f]{64}$/;
const STATUSES = ["pending", "switched", "disabling"];

const show = (v: unknown): string => (v === undefined ? "missing" : JSON.stringify(v)?.slice(0, 80) ?? String(v));

/** The first field of `s` that is missing or of the wrong type, as
 * `<field> is not <what>` (e.g. `providers.coreutils.targets[0].original is
 * not an object`), or null when the whole shape is right. */
export function stateShapeProblem(s: unknown): string | null {
  if (!isObj(s)) return `the file is ${show(s)}, not an object`;
  if (s.v !== 1) return `v is ${show(s.v)}, not 1 (unknown state version)`;
  if (!isObj(s.providers)) return "providers is not an object";
  for (const [name, p] of Object.entries(s.providers)) {
    const at = `providers.${NAME_RE.test(name) ? name : JSON.stringify(name)}`;
    if (!NAME_RE.test(name)) return `${at} is not a provider name`;
    const bad = providerProblem(at, name, p);
    if (bad) return bad;
  }
  return null;
}

function providerProblem(at: string, name: string, p: unknown): string | null {
  if (!isObj(p)) return `${at} is not an object`;
  if (p.provider !== name) return `${at}.provider is ${show(p.provider)}, not "${name}"`;
  if (typeof p.manager !== "string" || !NAME_RE.test(p.manager)) return `${at}.manager ${show(p.manager)} is not a package manager name`;
  if (typeof p.package !== "string" || !PACKAGE_RE.test(p.package)) return `${at}.package ${show(p.package)} is not a package name`;
  if (!Array.isArray(p.replaces)) return `${at}.replaces is not a list`;
  for (const [i, r] of p.replaces.entries()) {
    if (typeof r !== "string" || !PACKAGE_RE.test(r)) return `${at}.replaces[${i}] ${show(r)} is not a package name`;
  }
  if (typeof p.status !== "string" || !STATUSES.includes(p.status)) return `${at}.status ${show(p.status)} is not one of ${STATUSES.join(", ")}`;
  if (typeof p.installed_by_us !== "boolean") return `${at}.installed_by_us is not true or false`;
  if (typeof p.op !== "string" || !OP_ID_RE.test(p.op)) return `${at}.op ${show(p.op)} is not an op id`;
  if (!Array.isArray(p.targets)) return `${at}.targets is not a list`;
  const seen = new Set<unknown>();
  for (const [i, t] of p.targets.entries()) {
    const bad = targetProblem(`${at}.targets[${i}]`, t);
    if (bad) return bad;
    const path = (t as Obj).path;
    if (seen.has(path)) return `${at}.targets[${i}].path ${show(path)} is listed twice`;
    seen.add(path);
  }
  return null;
}

function targetProblem(at: string, t: unknown): string | null {
  if (!isObj(t)) return `${at} is not an object`;
  if (typeof t.applet !== "string" || t.applet === "" || t.applet === "." || t.applet === ".." || /[/\0]/.test(t.applet)) return `${at}.applet ${show(t.applet)} is not a command name`;
  for (const k of ["path", "link_target", "backup"]) {
    if (typeof t[k] !== "string") return `${at}.${k} is not a string`;
  }
  for (const k of ["db_path", "diverted_to"]) {
    if (t[k] !== undefined && t[k] !== null && typeof t[k] !== "string") return `${at}.${k} is not a string or null`;
  }
  return originalProblem(`${at}.original`, t.original);
}

function originalProblem(at: string, o: unknown): string | null {
  if (!isObj(o)) return `${at} is not an object`;
  if (o.kind !== "file" && o.kind !== "symlink") return `${at}.kind ${show(o.kind)} is not "file" or "symlink"`;
  if (!isCount(o.mode) || (o.mode as number) > 0o177777) return `${at}.mode ${show(o.mode)} is not a file mode`;
  for (const k of ["uid", "gid", "size"]) {
    if (!isCount(o[k])) return `${at}.${k} ${show(o[k])} is not a non-negative integer`;
  }
  if (o.sha256 !== null && (typeof o.sha256 !== "string" || !SHA256_RE.test(o.sha256))) return `${at}.sha256 ${show(o.sha256)} is not a SHA-256 digest or null`;
  if (o.link_target !== null && (typeof o.link_target !== "string" || o.link_target === "" || o.link_target.includes("\0"))) return `${at}.link_target is not a link text or null`;
  if (o.owner !== null && typeof o.owner !== "string") return `${at}.owner is not a string or null`;
  return null;
}
