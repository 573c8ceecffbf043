/** The provider catalog: which package replaces which, and how to find the
 * replacement's applets. Data, not code: built-in JSONC plus operator drop-ins. */
import { readdirSync } from "node:fs";
import { entryAt } from "../config/access.ts";
import { READ_LIMIT, readBoundedText, readProblem, tooDeep } from "../config/bounded.ts";
import { join } from "node:path";
import { parse, printParseErrorCode, type ParseError } from "../config/jsonc.ts";
import { Exit, PkgswitchError } from "../errors.ts";
import { MANAGER_KINDS, type ManagerKind } from "../pkgmgr/types.ts";
import type { NativeSpec } from "../pkgmgr/backend.ts";
import builtin from "./catalog.jsonc" with { type: "text" };

export type AppletSource =
  | { dir: string; prefix?: string; suffix?: string; names?: string[] }
  | { list: string };

export interface ManagerRecipe {
  replaces: string[];
  package: string;
  applets: AppletSource;
  multicall?: string;
  /** The distribution's own switch for this provider, when a root has it (docs/native.md). */
  native?: NativeSpec;
}

export interface Provider {
  name: string;
  description: string;
  recipes: Partial<Record<ManagerKind, ManagerRecipe>>;
  setuid: string[];
  exclude: string[];
}

export type Catalog = Map<string, Provider>;

const NAME_RE = /^[a-z0-9][a-z0-9._+-]*$/;

function catalogError(where: string, msg: string): PkgswitchError {
  return new PkgswitchError(Exit.USAGE, `provider catalog ${where}: ${msg}`);
}

function asStringList(v: unknown, where: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw catalogError(where, "must be a list of strings");
  return v as string[];
}

/** Refuse keys a catalog entry does not define: a typo ("setiud") must not
 * silently drop a requirement. */
function onlyKeys(obj: Record<string, unknown>, allowed: string[], where: string): void {
  if (Object.getPrototypeOf(obj) !== Object.prototype) throw catalogError(where, 'unknown key "__proto__"');
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) throw catalogError(where, `unknown key "${k}" (allowed: ${allowed.join(", ")})`);
}

function parseRecipe(v: unknown, where: string): ManagerRecipe {
  if (typeof v !== "object" || v === null) throw catalogError(where, "must be an object");
  const r = v as Record<string, unknown>;
  onlyKeys(r, ["replaces", "package", "applets", "multicall", "native"], where);
  if (typeof r.applets === "object" && r.applets !== null) onlyKeys(r.applets as Record<string, unknown>, ["dir", "prefix", "suffix", "names", "list"], `${where}.applets`);
  const replaces = asStringList(r.replaces, `${where}.replaces`);
  if (replaces.length === 0) throw catalogError(`${where}.replaces`, "must name at least one package");
  // Names go to the package manager's command line: "--foo" would be an option.
  for (const [i, n] of replaces.entries()) if (!NAME_RE.test(n)) throw catalogError(`${where}.replaces[${i}]`, "must be a package name");
  if (typeof r.package !== "string" || !NAME_RE.test(r.package)) throw catalogError(`${where}.package`, "must be a package name");
  const a = r.applets as Record<string, unknown> | undefined;
  let applets: AppletSource;
  if (a && typeof a.list === "string" && a.list.startsWith("/")) applets = { list: a.list };
  else if (a && typeof a.dir === "string" && a.dir.startsWith("/")) {
    applets = { dir: a.dir };
    if (typeof a.prefix === "string") applets.prefix = a.prefix;
    if (typeof a.suffix === "string") applets.suffix = a.suffix;
    if (a.names !== undefined) applets.names = asStringList(a.names, `${where}.applets.names`);
  } else throw catalogError(`${where}.applets`, 'needs {"dir": "/abs/path"} or {"list": "/abs/binary"}');
  const recipe: ManagerRecipe = { replaces, package: r.package, applets };
  if (typeof r.multicall === "string") recipe.multicall = r.multicall;
  if (r.native !== undefined) recipe.native = parseNative(r.native, `${where}.native`);
  return recipe;
}

/** {"packages": {"original": P, "replacement": Q}} or
 * {"alternative": {"name": N, "original": /path, "replacement": /path}}. */
function parseNative(v: unknown, where: string): NativeSpec {
  if (typeof v !== "object" || v === null) throw catalogError(where, "must be an object");
  const n = v as Record<string, unknown>;
  onlyKeys(n, ["packages", "alternative"], where);
  const side = (o: Record<string, unknown>, k: string, path: boolean): string => {
    const x = o[k];
    if (typeof x !== "string" || (path ? !x.startsWith("/") : !NAME_RE.test(x))) throw catalogError(`${where}.${k}`, path ? "must be an absolute path" : "must be a package name");
    return x;
  };
  if (typeof n.packages === "object" && n.packages !== null) {
    const p = n.packages as Record<string, unknown>;
    onlyKeys(p, ["original", "replacement"], `${where}.packages`);
    return { kind: "packages", original: side(p, "original", false), replacement: side(p, "replacement", false) };
  }
  if (typeof n.alternative === "object" && n.alternative !== null) {
    const a = n.alternative as Record<string, unknown>;
    onlyKeys(a, ["name", "original", "replacement"], `${where}.alternative`);
    if (typeof a.name !== "string" || !NAME_RE.test(a.name)) throw catalogError(`${where}.alternative.name`, "must be an alternative name");
    return { kind: "alternative", name: a.name, original: side(a, "original", true), replacement: side(a, "replacement", true) };
  }
  throw catalogError(where, 'needs {"packages": {…}} or {"alternative": {…}}');
}

/** Parse catalog JSONC text (a map of provider name → entry); pure. */
export function parseCatalog(text: string, where: string): Catalog {
  if (tooDeep(text)) throw catalogError(where, "nested too deeply (more than 64 levels)");
  const errors: ParseError[] = [];
  const raw = parse(text, errors, { allowTrailingComma: true });
  if (errors.length > 0) {
    const line = text.slice(0, errors[0]!.offset).split("\n").length;
    throw catalogError(where, `line ${line}: ${printParseErrorCode(errors[0]!.error)}`);
  }
  return catalogOf(raw, where);
}

/** The catalog a parsed document describes, validated; pure. */
function catalogOf(raw: unknown, where: string): Catalog {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw catalogError(where, "must be an object of providers");
  // `{"__proto__": …}` sets the prototype instead of adding an entry.
  if (Object.getPrototypeOf(raw) !== Object.prototype) throw catalogError(where, 'unknown key "__proto__"');
  const out: Catalog = new Map();
  for (const [name, entry] of Object.entries(raw as Record<string, unknown>)) {
    if (!NAME_RE.test(name)) throw catalogError(where, `bad provider name "${name}"`);
    if (typeof entry !== "object" || entry === null) throw catalogError(`${where}: ${name}`, "must be an object");
    const e = entry as Record<string, unknown>;
    onlyKeys(e, ["description", ...MANAGER_KINDS, "setuid", "exclude"], `${where}: ${name}`);
    const recipes: Provider["recipes"] = {};
    for (const kind of MANAGER_KINDS) {
      if (e[kind] !== undefined) recipes[kind] = parseRecipe(e[kind], `${where}: ${name}.${kind}`);
    }
    out.set(name, {
      name,
      description: typeof e.description === "string" ? e.description : name,
      recipes,
      setuid: asStringList(e.setuid, `${where}: ${name}.setuid`),
      exclude: asStringList(e.exclude, `${where}: ${name}.exclude`),
    });
  }
  return out;
}

/** Comments, and the strings they may not start in. */
const COMMENTS = /("[^"\\]*(?:\\[\s\S][^"\\]*)*")|\/\/[^\n]*|\/\*[\s\S]*?\*\//g;

/** The built-in catalog. Without its comments its text is strict JSON
 * (tests/unit/core-catalog.test.ts: read the same as through the JSONC
 * parser), so JSON.parse reads it: the JSONC parser, in code still cold at
 * start-up, took ~2 ms of every `status`. A text JSON.parse refuses (a
 * trailing comma added one day) goes through parseCatalog as before. */
function builtinCatalog(): Catalog {
  let raw: unknown;
  try {
    raw = JSON.parse(builtin.replace(COMMENTS, (_: string, s: string | undefined) => s ?? ""));
  } catch {
    return parseCatalog(builtin, "(built-in)");
  }
  return catalogOf(raw, "(built-in)");
}

/** The built-in catalog overlaid with `<root>/etc/pkgswitch/providers.d/*.jsonc`
 * (sorted by file name; a later entry replaces an earlier one whole). */
export function loadCatalog(providersDir: string): Catalog {
  const catalog = builtinCatalog();
  if (!entryAt(providersDir)) return catalog;
  let names: string[];
  try {
    names = readdirSync(providersDir);
  } catch (e) {
    throw new PkgswitchError(Exit.USAGE, `drop-in directory ${providersDir}: ${readProblem(e)}; it must be a directory of *.jsonc files`);
  }
  const files = names.filter((f) => f.endsWith(".jsonc") || f.endsWith(".json")).sort();
  for (const f of files) {
    const path = join(providersDir, f);
    let text: string;
    try {
      text = readBoundedText(path, { max: READ_LIMIT.small });
    } catch (e) {
      throw new PkgswitchError(Exit.USAGE, `drop-in ${path}: ${readProblem(e)} (a drop-in must be a regular file of at most 1 MiB)`);
    }
    for (const [name, p] of parseCatalog(text, path)) catalog.set(name, p);
  }
  return catalog;
}

/** Look up providers by name; unknown names are a usage error listing the known ones. */
export function resolveProviders(catalog: Catalog, names: string[]): Provider[] {
  const unknown = names.filter((n) => !catalog.has(n));
  if (unknown.length > 0) {
    throw new PkgswitchError(
      Exit.USAGE,
      `unknown provider${unknown.length > 1 ? "s" : ""} ${unknown.map((u) => `"${u}"`).join(", ")}; known: ${[...catalog.keys()].sort().join(", ")}`,
    );
  }
  return [...new Set(names)].map((n) => catalog.get(n)!);
}
