/** The operator's config: `<root>/etc/pkgswitch/config.jsonc` (or --config).
 * JSONC so operators can comment it; every field optional; unknown keys and
 * wrong types are refused with the file and the key named. */
import { entryAt } from "./access.ts";
import { READ_LIMIT, readBoundedText, readProblem, tooDeep } from "./bounded.ts";
import { parse, printParseErrorCode, stripComments, type ParseError } from "./jsonc.ts";
import { Exit, PkgswitchError } from "../errors.ts";

export interface Config {
  /** Audit directory (path inside the root). */
  auditDir?: string;
  /** State directory (path inside the root). */
  stateDir?: string;
  /** Applets never switched, per provider: {"coreutils": ["stty"]}. */
  exclude: Record<string, string[]>;
  /** Run `<applet> --version` after switching (default true). */
  smokeTest: boolean;
  /** How long to wait for the pkgswitch lock, ms (default 10000). */
  lockTimeoutMs: number;
  /** Secret key path inside the root (default /etc/pkgswitch/keys/signing.key). */
  signingKey?: string;
  /** Fleet database for `audit push` (postgres://USER@HOST:PORT/DB, no password);
   * when set, `relink --hook` also pushes (docs/fleet.md). */
  fleetDb?: string;
  /** The most a hook's push may take, ms (default 3000). */
  fleetPushTimeoutMs?: number;
}

export const DEFAULT_CONFIG: Config = { exclude: {}, smokeTest: true, lockTimeoutMs: 10_000 };

const configError = (file: string, msg: string) =>
  new PkgswitchError(Exit.USAGE, `config ${file}: ${msg}`);

/** Parse config text; pure. Throws a PkgswitchError naming file and key. */
export function parseConfig(text: string, file: string): Config {
  // An empty or fully commented-out file means the defaults.
  if (tooDeep(text)) throw configError(file, "nested too deeply (more than 64 levels)");
  if (stripComments(text).trim() === "") return { ...DEFAULT_CONFIG, exclude: {} };
  const errors: ParseError[] = [];
  const raw = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0) {
    const e = errors[0]!;
    const line = text.slice(0, e.offset).split("\n").length;
    throw configError(file, `line ${line}: ${printParseErrorCode(e.error)}`);
  }
  if (raw === undefined || raw === null) return { ...DEFAULT_CONFIG, exclude: {} };
  if (typeof raw !== "object" || Array.isArray(raw)) throw configError(file, "top level must be an object");
  // `"__proto__": {…}` sets the prototype instead of adding a key.
  if (Object.getPrototypeOf(raw) !== Object.prototype) throw configError(file, 'unknown key "__proto__"');
  const cfg: Config = { ...DEFAULT_CONFIG, exclude: {} };
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    switch (key) {
      case "auditDir":
      case "stateDir":
      case "signingKey":
        if (typeof value !== "string" || !value.startsWith("/"))
          throw configError(file, `"${key}" must be an absolute path string`);
        cfg[key] = value;
        break;
      case "fleetDb":
        if (typeof value !== "string" || !/^postgres(ql)?:\/\//.test(value)) throw configError(file, `"fleetDb" must be a postgres://USER@HOST:PORT/DATABASE URL`);
        cfg.fleetDb = value;
        break;
      case "fleetPushTimeoutMs":
        if (!Number.isInteger(value) || (value as number) < 1) throw configError(file, `"fleetPushTimeoutMs" must be a positive integer`);
        cfg.fleetPushTimeoutMs = value as number;
        break;
      case "smokeTest":
        if (typeof value !== "boolean") throw configError(file, `"smokeTest" must be true or false`);
        cfg.smokeTest = value;
        break;
      case "lockTimeoutMs":
        if (!Number.isInteger(value) || (value as number) < 0)
          throw configError(file, `"lockTimeoutMs" must be a non-negative integer`);
        cfg.lockTimeoutMs = value as number;
        break;
      case "exclude":
        if (typeof value !== "object" || value === null || Array.isArray(value))
          throw configError(file, `"exclude" must map provider names to lists of applets`);
        for (const [prov, list] of Object.entries(value as Record<string, unknown>)) {
          if (!Array.isArray(list) || !list.every((a) => typeof a === "string"))
            throw configError(file, `"exclude.${prov}" must be a list of applet names`);
          cfg.exclude[prov] = list as string[];
        }
        break;
      default:
        throw configError(file, `unknown key "${key}"`);
    }
  }
  return cfg;
}

/** Load the config file; a missing default file means defaults. */
export function loadConfig(file: string, explicit: boolean): Config {
  if (!entryAt(file)) {
    if (explicit) throw configError(file, "no such file");
    return { ...DEFAULT_CONFIG, exclude: {} };
  }
  let text: string;
  try {
    text = readBoundedText(file, { max: READ_LIMIT.small });
  } catch (e) {
    throw configError(file, `${readProblem(e)} (it must be a regular file of at most 1 MiB)`);
  }
  return parseConfig(text, file);
}
