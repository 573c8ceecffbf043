/** The probe corpus: data (src/providers/probes.jsonc) plus operator drop-ins
 * in `<root>/etc/pkgswitch/probes.d/*.jsonc`. Parsing is pure and strict:
 * an unknown key or a wrong type is a usage error naming the file and probe,
 * so a typo never silently weakens what is compared. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, printParseErrorCode, type ParseError } from "../config/jsonc.ts";
import { Exit, PkgswitchError } from "../errors.ts";
import builtin from "../providers/probes.jsonc" with { type: "text" };

export type Aspect = "stdout" | "status" | "files" | "stderr";
export const ASPECTS: readonly Aspect[] = ["stdout", "status", "files", "stderr"];

/** A fixture entry: file content, or a file with a mode, a symlink, a directory. */
export type Fixture = string | { content?: string; mode?: string; link?: string; dir?: boolean };

export interface Probe {
  id: string;
  /** The command under test; the probe runs only when it is switched. */
  cmd: string;
  args: string[];
  /** A /bin/sh script run instead of `cmd args` (pipes, status checks). */
  sh?: string;
  /** Every switched command the probe needs (cmd included). */
  uses: string[];
  stdin?: string;
  files: Record<string, Fixture>;
  compare: Aspect[];
  lines?: number;
  normalize: string[];
  mtime: boolean;
}

/** A probe run for every switched command (`--version`, `--help`). */
export interface EveryProbe {
  id: string;
  args: string[];
  compare: Aspect[];
}

export interface Corpus {
  version: 1;
  fixtures: Record<string, Fixture>;
  every: EveryProbe[];
  probes: Probe[];
  /** Operands to put after the flags found in the root's scripts, per command. */
  templates: Record<string, string[]>;
  /** The texts it was built from, in order (for the result cache key). */
  sources: string[];
}

const ID_RE = /^[A-Za-z0-9._+:[\]-]{1,80}$/;

function corpusError(where: string, msg: string): PkgswitchError {
  return new PkgswitchError(Exit.USAGE, `probe corpus ${where}: ${msg}`);
}

function plainObject(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw corpusError(where, "must be an object");
  if (Object.getPrototypeOf(v) !== Object.prototype) throw corpusError(where, 'unknown key "__proto__"');
  return v as Record<string, unknown>;
}

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw corpusError(where, `unknown key "${k}" (allowed: ${allowed.join(", ")})`);
}

function strings(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw corpusError(where, "must be a list of strings");
  return v as string[];
}

/** A relative path that stays inside the scratch directory. */
function fixturePath(p: string, where: string): string {
  if (p === "" || p.startsWith("/") || p.split("/").some((c) => c === ".." || c === "") || p.includes("\0")) {
    throw corpusError(where, `fixture path "${p}" must be relative, without "..", and non-empty`);
  }
  return p;
}

function parseFixtures(v: unknown, where: string): Record<string, Fixture> {
  const out: Record<string, Fixture> = {};
  for (const [path, f] of Object.entries(plainObject(v, where))) {
    const w = `${where} "${path}"`;
    fixturePath(path, w);
    if (typeof f === "string") { out[path] = f; continue; }
    const o = plainObject(f, w);
    onlyKeys(o, ["content", "mode", "link", "dir"], w);
    if (o.content !== undefined && typeof o.content !== "string") throw corpusError(w, '"content" must be a string');
    if (o.mode !== undefined && (typeof o.mode !== "string" || !/^0?[0-7]{3,4}$/.test(o.mode))) throw corpusError(w, '"mode" must be an octal string like "0644"');
    if (o.link !== undefined && typeof o.link !== "string") throw corpusError(w, '"link" must be a string');
    if (o.dir !== undefined && o.dir !== true) throw corpusError(w, '"dir" must be true');
    const kinds = [o.content !== undefined, o.link !== undefined, o.dir === true].filter(Boolean).length;
    if (kinds > 1) throw corpusError(w, 'give one of "content", "link", "dir"');
    out[path] = o as Fixture;
  }
  return out;
}

function parseCompare(v: unknown, where: string): Aspect[] {
  if (v === undefined) return [...ASPECTS];
  const list = strings(v, `${where}.compare`);
  for (const a of list) if (!ASPECTS.includes(a as Aspect)) throw corpusError(`${where}.compare`, `unknown aspect "${a}" (allowed: ${ASPECTS.join(", ")})`);
  if (list.length === 0) throw corpusError(`${where}.compare`, "must name at least one aspect");
  return list as Aspect[];
}

function parseProbe(v: unknown, where: string): Probe {
  const o = plainObject(v, where);
  if (typeof o.id !== "string" || !ID_RE.test(o.id)) throw corpusError(where, '"id" must be a name of letters, digits and ._+:[]-');
  const w = `${where} "${o.id}"`;
  onlyKeys(o, ["id", "cmd", "args", "sh", "uses", "stdin", "files", "compare", "lines", "normalize", "mtime"], w);
  if (typeof o.cmd !== "string" || o.cmd === "" || o.cmd.includes("/")) throw corpusError(w, '"cmd" must be a command name');
  if (o.sh !== undefined && typeof o.sh !== "string") throw corpusError(w, '"sh" must be a string');
  if (o.sh !== undefined && o.args !== undefined) throw corpusError(w, 'give "args" or "sh", not both');
  if (o.uses !== undefined && o.sh === undefined) throw corpusError(w, '"uses" goes with "sh"');
  if (o.stdin !== undefined && typeof o.stdin !== "string") throw corpusError(w, '"stdin" must be a string');
  if (o.lines !== undefined && (!Number.isInteger(o.lines) || (o.lines as number) < 1)) throw corpusError(w, '"lines" must be a positive integer');
  if (o.mtime !== undefined && typeof o.mtime !== "boolean") throw corpusError(w, '"mtime" must be true or false');
  const normalize = o.normalize === undefined ? [] : strings(o.normalize, `${w}.normalize`);
  for (const re of normalize) {
    try { new RegExp(re, "g"); } catch { throw corpusError(`${w}.normalize`, `bad regular expression ${JSON.stringify(re)}`); }
  }
  const uses = o.uses === undefined ? [o.cmd] : [...new Set([o.cmd, ...strings(o.uses, `${w}.uses`)])];
  const probe: Probe = {
    id: o.id, cmd: o.cmd, args: o.args === undefined ? [] : strings(o.args, `${w}.args`), uses,
    files: o.files === undefined ? {} : parseFixtures(o.files, `${w}.files`),
    compare: parseCompare(o.compare, w), normalize, mtime: o.mtime === true,
  };
  if (o.sh !== undefined) probe.sh = o.sh as string;
  if (o.stdin !== undefined) probe.stdin = o.stdin as string;
  if (o.lines !== undefined) probe.lines = o.lines as number;
  return probe;
}

function parseText(text: string, where: string): unknown {
  const errors: ParseError[] = [];
  const raw = parse(text, errors, { allowTrailingComma: true });
  if (errors.length > 0) {
    const line = text.slice(0, errors[0]!.offset).split("\n").length;
    throw corpusError(where, `line ${line}: ${printParseErrorCode(errors[0]!.error)}`);
  }
  return raw;
}

/** Parse one corpus text (the built-in one, or a drop-in); pure. A drop-in
 * may carry any of the sections; `version` must be 1 where given. */
export function parseCorpus(text: string, where: string): Omit<Corpus, "sources"> {
  const o = plainObject(parseText(text, where), where);
  onlyKeys(o, ["version", "fixtures", "every", "probes", "templates"], where);
  if (o.version !== undefined && o.version !== 1) throw corpusError(where, `"version" ${JSON.stringify(o.version)} is not supported (this build reads 1)`);
  const every = o.every === undefined ? [] : (() => {
    if (!Array.isArray(o.every)) throw corpusError(`${where}.every`, "must be a list");
    return o.every.map((e, i) => {
      const eo = plainObject(e, `${where}.every[${i}]`);
      onlyKeys(eo, ["id", "args", "compare"], `${where}.every[${i}]`);
      if (typeof eo.id !== "string" || !ID_RE.test(eo.id)) throw corpusError(`${where}.every[${i}]`, '"id" must be a name');
      return { id: eo.id, args: strings(eo.args ?? [], `${where}.every[${i}].args`), compare: parseCompare(eo.compare, `${where}.every[${i}]`) };
    });
  })();
  if (o.probes !== undefined && !Array.isArray(o.probes)) throw corpusError(`${where}.probes`, "must be a list");
  const probes = ((o.probes as unknown[] | undefined) ?? []).map((p, i) => parseProbe(p, `${where}.probes[${i}]`));
  const seen = new Set<string>();
  for (const p of probes) {
    if (seen.has(p.id)) throw corpusError(where, `probe id "${p.id}" appears twice`);
    seen.add(p.id);
  }
  const templates: Record<string, string[]> = {};
  if (o.templates !== undefined) for (const [cmd, args] of Object.entries(plainObject(o.templates, `${where}.templates`))) templates[cmd] = strings(args, `${where}.templates.${cmd}`);
  return { version: 1, fixtures: o.fixtures === undefined ? {} : parseFixtures(o.fixtures, `${where}.fixtures`), every, probes, templates };
}

/** Overlay drop-ins on a base corpus: a probe with an existing id replaces
 * it, fixtures and `every` entries are added or replaced by name. Pure. */
export function overlay(base: Corpus, extra: Omit<Corpus, "sources">, text: string): Corpus {
  const probes = new Map(base.probes.map((p) => [p.id, p]));
  for (const p of extra.probes) probes.set(p.id, p);
  const every = new Map(base.every.map((e) => [e.id, e]));
  for (const e of extra.every) every.set(e.id, e);
  return { version: 1, fixtures: { ...base.fixtures, ...extra.fixtures }, every: [...every.values()], probes: [...probes.values()], templates: { ...base.templates, ...extra.templates }, sources: [...base.sources, text] };
}

/** The corpus's texts, and the corpus built from them on demand. */
export interface CorpusTexts {
  /** The built-in text, then each drop-in's, as `Corpus.sources`. */
  sources: string[];
  /** The corpus these texts make (built once, on the first call). */
  build(): Corpus;
}

/** The texts of the built-in corpus and of `probesDir/*.jsonc` (sorted by
 * name). The drop-ins are parsed here, so a bad one is reported now exactly
 * as by loadCorpus; the built-in text — fixed in this binary, and parsed by
 * the unit tests — is parsed only when the corpus is built: an enable whose
 * probe results are cached needs only the texts (~15 ms of parsing saved). */
export function corpusTexts(probesDir: string | null): CorpusTexts {
  const dropIns: Array<{ parsed: Omit<Corpus, "sources">; text: string }> = [];
  if (probesDir && existsSync(probesDir)) {
    for (const f of readdirSync(probesDir).filter((n) => n.endsWith(".jsonc") || n.endsWith(".json")).sort()) {
      const path = join(probesDir, f);
      const text = readFileSync(path, "utf8");
      dropIns.push({ parsed: parseCorpus(text, path), text });
    }
  }
  let built: Corpus | undefined;
  return {
    sources: [builtin, ...dropIns.map((d) => d.text)],
    build: () => (built ??= dropIns.reduce((c, d) => overlay(c, d.parsed, d.text), { ...parseCorpus(builtin, "(built-in)"), sources: [builtin] } as Corpus)),
  };
}

/** The built-in corpus overlaid with `probesDir/*.jsonc` (sorted by name). */
export function loadCorpus(probesDir: string | null): Corpus {
  return corpusTexts(probesDir).build();
}
