/** The docs' command blocks as tests (format: docs/README.md).
 *
 * A doc is cut into scenes: `<!-- doctest: fixture=NAME -->` starts one (a
 * fresh throwaway root in the state NAME, tests/docs/fixtures.ts), and every
 * ```console block up to the next fixture comment runs in it, in order.
 * `<!-- doctest: file=NAME -->` before any fenced block writes that block
 * into the scene's working directory. In a console block, `$ ` lines are
 * commands and the lines after them what they print (stdout and stderr);
 * `(exit N…)` gives the exit status (default 0); a line `…` stands for any
 * lines, a `…` inside a line for any text. Parsing and matching are pure;
 * running lives in ./run.ts. */

export interface Step {
  command: string;
  expected: string[];
  exit: number;
  /** 1-based line of the `$ ` line in the doc. */
  line: number;
}

export interface Scene {
  fixture: string;
  line: number;
  steps: Step[];
  files: Array<{ name: string; content: string }>;
}

export interface ParsedDoc {
  scenes: Scene[];
  /** Command lines the runner would not run: problems to report. */
  problems: string[];
}

const FIXTURE = /^<!--\s*doctest:\s*fixture=([\w-]+)\s*-->\s*$/;
const FILE = /^<!--\s*doctest:\s*file=([\w.-]+)\s*-->\s*$/;
const EXIT = /^\((?:[^)]*?, )?exit (\d+)(?:[;,)].*)?$/;

export function parseDoc(text: string, name: string): ParsedDoc {
  const lines = text.split("\n");
  const scenes: Scene[] = [];
  const problems: string[] = [];
  let scene: Scene | null = null;
  let pendingFile: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    let m: RegExpExecArray | null;
    if ((m = FIXTURE.exec(l))) {
      scene = { fixture: m[1]!, line: i + 1, steps: [], files: [] };
      scenes.push(scene);
      continue;
    }
    if ((m = FILE.exec(l))) {
      pendingFile = m[1]!;
      continue;
    }
    const fence = /^(\s*)```(\S*)\s*$/.exec(l);
    if (fence) {
      const indent = fence[1]!;
      const lang = fence[2]!;
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length && !new RegExp(`^${indent}\`\`\`\\s*$`).test(lines[j]!); j++) body.push(lines[j]!.slice(indent.length));
      if (pendingFile) {
        if (!scene) problems.push(`${name}:${i + 1}: file=${pendingFile} before any fixture comment`);
        else scene.files.push({ name: pendingFile, content: body.join("\n") + "\n" });
        pendingFile = null;
      } else if (lang === "console") {
        if (!scene) problems.push(`${name}:${i + 1}: a console block before any <!-- doctest: fixture=… --> comment`);
        else scene.steps.push(...parseBlock(body, i + 2));
      } else if (body.some((b) => /^\s*\$ /.test(b))) {
        problems.push(`${name}:${i + 1}: a \`\`\`${lang} block with \`$ \` commands: make it \`\`\`console (it is then run) or drop the prompts`);
      }
      i = j;
      continue;
    }
    // Indented (4-space) blocks with a prompt are commands no test runs.
    if (/^ {4,}\$ /.test(l) && (i === 0 || lines[i - 1]!.trim() === "" || !/^ {4,}/.test(lines[i - 1]!))) {
      problems.push(`${name}:${i + 1}: an indented command block no test runs (\`${l.trim().slice(0, 60)}\`): make it a \`\`\`console block under a fixture comment`);
    }
  }
  for (const s of scenes) if (s.steps.length === 0) problems.push(`${name}:${s.line}: fixture=${s.fixture} has no console block`);
  return { scenes, problems };
}

function parseBlock(body: string[], firstLine: number): Step[] {
  const steps: Step[] = [];
  let cur: Step | null = null;
  body.forEach((l, k) => {
    if (l.startsWith("$ ")) {
      cur = { command: l.slice(2), expected: [], exit: 0, line: firstLine + k };
      steps.push(cur);
      return;
    }
    if (!cur) return; // prose before the first prompt is not allowed, but harmless
    const m = EXIT.exec(l.trim());
    if (m) (cur as Step).exit = Number(m[1]);
    else (cur as Step).expected.push(l);
  });
  return steps;
}

/** What varies from run to run, made equal on both sides. */
export function normalise(text: string, root?: string): string[] {
  let t = text;
  if (root) t = t.split(root).join("$ROOT");
  t = t
    // A scene's root is an overlay mounted at /tmp/pkgswitch-doc-XXXX/root.
    .replace(/\/tmp\/pkgswitch-doc-[A-Za-z0-9]+\/root\b/g, "$ROOT")
    .replace(/\/tmp\/[A-Za-z0-9._-]+/g, "$ROOT")
    .replace(/\btmp\.[A-Za-z0-9]{10}\b/g, "tmp.<mktemp>")
    // The tool's version (op.start's "pkgswitch X.Y.Z"): a release bump is not doc drift.
    .replace(/\bpkgswitch \d+\.\d+\.\d+\b/g, "pkgswitch <version>")
    .replace(/\d{8}T\d{6}Z-[0-9a-f]{8}/g, "<op>")
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, "<ts>")
    .replace(/\b\d{2}:\d{2}:\d{2}(\.\d{3})?\b/g, "<time>")
    .replace(/\b[0-9a-f]{12,}\b/g, "<hex>")
    .replace(/\b[0-9A-F]{16}\b/g, "<keyid>")
    .replace(/[A-Za-z0-9+/]{40,}={0,2}/g, "<b64>")
    .replace(/\b\d+ ms\b/g, "<n> ms")
    .replace(/\b\d+(\.\d+)?s\b/g, "<n>s");
  return t
    .split("\n")
    .map((l) => l.replace(/\s+$/, "").replace(/ {2,}/g, " "))
    .filter((l) => l !== "");
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Whether `actual` lines are what `expected` (normalised, with `…`
 * wildcards) shows. Returns null on a match, else the first expected line
 * that could not be matched and what was there instead. */
export function match(expected: string[], actual: string[]): string | null {
  const pats = expected.map((e) => (e.trim() === "…" ? null : new RegExp(`^${e.split("…").map(escape).join(".*")}$`)));
  const memo = new Map<string, boolean>();
  let deepest = { e: 0, a: 0 };
  const go = (e: number, a: number): boolean => {
    const key = `${e},${a}`;
    const seen = memo.get(key);
    if (seen !== undefined) return seen;
    if (e > deepest.e || (e === deepest.e && a > deepest.a)) deepest = { e, a };
    let ok: boolean;
    if (e === pats.length) ok = a === actual.length;
    else if (pats[e] === null) ok = go(e + 1, a) || (a < actual.length && go(e, a + 1));
    else ok = a < actual.length && pats[e]!.test(actual[a]!) && go(e + 1, a + 1);
    memo.set(key, ok);
    return ok;
  };
  if (go(0, 0)) return null;
  const want = deepest.e < expected.length ? expected[deepest.e] : "(end of output)";
  const got = deepest.a < actual.length ? actual[deepest.a] : "(end of output)";
  return `expected: ${want}\n     got: ${got}`;
}
