/** Structure check, run by scripts/test.sh before the tests (a failure fails
 * the run). It keeps the layout docs/architecture.md describes:
 *
 * 1. no import cycle among main.ts and src/ (type-only imports count: a
 *    cycle of types is still two modules that cannot be read apart);
 * 2. runtime names (`Bun.`, `bun:`, `Deno.`) only inside src/sys/;
 * 3. package-manager names (dpkg, apt, apt-get, pacman, rpm, dnf) only
 *    inside src/pkgmgr/ and the provider catalog data;
 * 4. imports only downward: each folder may import the folders listed for it
 *    in LAYERS and nothing above; cli, at the top, may import anything; a
 *    folder LAYERS does not list yet may import anything but cli;
 * 5. no bare exit-code number in a PkgswitchError (name it: Exit.PKGMGR,
 *    VerifyExit.NOT_FOUND; src/errors.ts).
 *
 * Usage: bun scripts/check-structure.ts [--root DIR]. Prints one line per
 * violation ("file:line: what") and exits 1 if there is any. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const argRoot = process.argv.indexOf("--root");
const ROOT = resolve(argRoot > 0 ? process.argv[argRoot + 1]! : join(dirname(new URL(import.meta.url).pathname), ".."));

/** Modules every layer may import: they know nothing of pkgswitch. */
const BASE = ["errors.ts", "version.ts", "sys", "encoding"];

/** What each src/ folder may import besides itself and BASE. Read
 * bottom-up: audit knows nothing of signing or commands; cli knows all. */
const LAYERS: Record<string, string[]> = {
  "errors.ts": [],
  "version.ts": [],
  sys: [],
  encoding: [],
  // config and fsops are one base layer (paths confine file operations;
  // the host id is written atomically); module cycles are still refused.
  config: ["fsops"],
  hashing: ["config"],
  fsops: ["config", "hashing"],
  audit: ["config", "hashing", "fsops"],
  pkgmgr: ["config", "hashing", "fsops"],
  attest: ["config", "hashing", "fsops", "audit", "pkgmgr"],
  providers: ["config", "pkgmgr"],
  hooks: ["config", "pkgmgr", "providers"],
  verify: ["config", "hashing", "fsops", "audit", "attest"],
  probes: ["config", "hashing", "fsops", "pkgmgr", "providers"],
  switch: ["config", "hashing", "fsops", "audit", "attest", "pkgmgr", "providers", "hooks", "probes"],
  cli: ["*"],
};
const UNLISTED = (layer: string) => layer !== "cli";

const RUNTIME_RE = /\bBun\.|\bbun:|\bDeno\./;
const RUNTIME_HOME = "src/sys/";
const MANAGER_RE = /\b(dpkg|apt-get|apt|pacman|rpm|dnf)\b/i;
const BARE_EXIT_RE = /PkgswitchError\(\s*\d/;
const MANAGER_HOMES = ["src/pkgmgr/", "src/providers/catalog.jsonc"];


function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(ts|jsonc)$/.test(name)) out.push(p);
  }
  return out;
}

const files = [join(ROOT, "main.ts"), ...walk(join(ROOT, "src"))];
const rel = (p: string) => relative(ROOT, p);
const problems: string[] = [];

// Specifiers of static imports/exports (`import x from`, `import type`,
// `export … from`, side-effect `import "x"`) and dynamic `import("x")`.
const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[^"';]*?\sfrom\s+)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;

const graph = new Map<string, Array<{ to: string; line: number }>>();
for (const f of files) {
  const text = readFileSync(f, "utf8");
  const r = rel(f);
  const lines = text.split("\n");
  if (!r.startsWith(RUNTIME_HOME)) {
    lines.forEach((l, i) => {
      if (RUNTIME_RE.test(l)) problems.push(`${r}:${i + 1}: names the runtime outside ${RUNTIME_HOME}: ${l.trim().slice(0, 100)}`);
    });
  }
  lines.forEach((l, i) => {
    if (BARE_EXIT_RE.test(l)) problems.push(`${r}:${i + 1}: a bare exit-code number (use Exit.* or VerifyExit.*): ${l.trim().slice(0, 100)}`);
  });
  if (!MANAGER_HOMES.some((h) => r.startsWith(h))) {
    lines.forEach((l, i) => {
      const m = MANAGER_RE.exec(l);
      if (m) problems.push(`${r}:${i + 1}: names the package manager "${m[1]}" outside src/pkgmgr/: ${l.trim().slice(0, 100)}`);
    });
  }
  if (!r.endsWith(".ts")) continue;
  const edges: Array<{ to: string; line: number }> = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2]!;
    if (!spec.startsWith(".")) continue;
    const line = text.slice(0, m.index! + m[0].length).split("\n").length;
    edges.push({ to: rel(resolve(dirname(f), spec)), line });
  }
  graph.set(r, edges);
}

/** The layer a file belongs to: its folder under src/, or its name at src/'s top. */
function layerOf(r: string): string | null {
  const m = /^src\/([^/]+)(\/)?/.exec(r);
  if (!m) return null;
  return m[2] ? m[1]! : m[1]!;
}

for (const [from, edges] of graph) {
  const a = layerOf(from);
  if (!a) continue;
  const allowed = LAYERS[a];
  for (const { to, line } of edges) {
    const b = layerOf(to);
    if (!b || b === a) continue;
    const ok = BASE.includes(b) || (allowed ? allowed.includes("*") || allowed.includes(b) : UNLISTED(b));
    if (!ok) problems.push(`${from}:${line}: imports upward, ${a} → ${b} (${to})`);
  }
}

// Cycles: Tarjan's strongly connected components; any component of more
// than one module (or a module importing itself) is a cycle.
{
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const strong = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const { to: w } of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      const selfLoop = (graph.get(v) ?? []).some((e) => e.to === v);
      if (comp.length > 1 || selfLoop) {
        const members = new Set(comp);
        const lines = comp.sort().map((m) => {
          const e = graph.get(m)!.find((e) => members.has(e.to))!;
          return `${m}:${e.line} → ${e.to}`;
        });
        problems.push(`import cycle among ${comp.length} module(s): ${lines.join("; ")}`);
      }
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) strong(v);
}

for (const p of problems) console.log(p);
if (problems.length > 0) {
  console.log(`check-structure: ${problems.length} problem(s); see docs/architecture.md`);
  process.exit(1);
}
console.log(`check-structure: ${graph.size} modules ok`);
