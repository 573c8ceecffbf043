/** Runs a doc's scenes (./doctest.ts) with bun:test: one test per scene,
 * each on a fresh throwaway root in the scene's fixture state. Commands run
 * in bash, in a scratch directory holding `dist/pkgswitch` (a link to the
 * built binary, also on PATH as `pkgswitch`), with `$ROOT` set; variables
 * (bash runs with `set -a`, so every assignment is exported), the working
 * directory and `$?` carry over from one command to the next, as in one
 * terminal. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, PROJECT } from "../helpers/paths.ts";
import { match, normalise, parseDoc, type Scene } from "./doctest.ts";
import { FIXTURES, dropRoot } from "./fixtures.ts";

/** Docs whose every command block is a test (tests/docs/coverage.test.ts). */
export const DOC_TESTED = ["docs/recovery.md", "docs/audit-verification.md", "docs/upgrades.md", "docs/keys.md"];

export function docScenes(doc: string) {
  return parseDoc(readFileSync(join(PROJECT, doc), "utf8"), doc);
}

/** DOCTEST_UPDATE=1: a step whose output differs from the doc does not fail;
 * its transcript in the doc is replaced by what it printed (then review the
 * diff, and put back `…` where output varies). Steps that match keep their
 * text, wildcards included. */
const UPDATE = process.env.DOCTEST_UPDATE === "1";
const updates = new Map<string, Array<{ line: number; out: string; exit: number }>>();

function applyUpdates(doc: string): void {
  const todo = (updates.get(doc) ?? []).sort((a, b) => b.line - a.line);
  if (todo.length === 0) return;
  const file = join(PROJECT, doc);
  const lines = readFileSync(file, "utf8").split("\n");
  for (const u of todo) {
    const indent = /^\s*/.exec(lines[u.line - 1]!)![0]; // a block inside a list item is indented
    let end = u.line; // lines[u.line - 1] is the `$ ` line
    while (end < lines.length && !lines[end]!.trimStart().startsWith("$ ") && !/^\s*```\s*$/.test(lines[end]!)) end++;
    const body = u.out.replace(/\n+$/, "").split("\n").filter((l, i, a) => !(a.length === 1 && l === ""));
    if (u.exit !== 0) body.push(`(exit ${u.exit})`);
    lines.splice(u.line, end - u.line, ...body.map((l) => (l === "" ? l : indent + l)));
  }
  writeFileSync(file, lines.join("\n"));
}

/** Scenes run side by side, at most DOCTEST_JOBS (default 2) at a time:
 * each has its own root and scratch directory, and most of a scene's time
 * is apt and dpkg waiting on the disk. */
const JOBS = Math.max(1, Number(process.env.DOCTEST_JOBS ?? 2) || 1);
let running = 0;
const waiting: Array<() => void> = [];
async function inSlot<T>(f: () => Promise<T>): Promise<T> {
  while (running >= JOBS) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await f();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

async function runScene(doc: string, scene: Scene): Promise<void> {
  const make = FIXTURES[scene.fixture];
  if (!make) throw new Error(`${doc}:${scene.line}: unknown fixture "${scene.fixture}" (known: ${Object.keys(FIXTURES).join(", ")})`);
  const root = make();
  const work = mkdtempSync("/tmp/pkgswitch-doctest-");
  try {
    mkdirSync(join(work, "dist"));
    symlinkSync(BINARY, join(work, "dist/pkgswitch"));
    for (const f of scene.files) writeFileSync(join(work, f.name), f.content);
    const shellState = join(work, ".shell-state");
    // Output goes to a file, not a pipe: a process a step leaves behind (an
    // orphaned apt after a kill) must not hold the step open.
    const outFile = join(work, ".step-output");
    writeFileSync(shellState, `cd ${JSON.stringify(work)}\n`);
    let prev = 0;
    for (const step of scene.steps) {
      const script = `set -a; . ${JSON.stringify(shellState)}; (exit ${prev}); ${step.command}\n__rc=$?; { export -p; printf 'cd %q\\n' "$PWD"; } > ${JSON.stringify(shellState)}; exit $__rc`;
      const p = Bun.spawn(["bash", "-c", `exec > ${JSON.stringify(outFile)} 2>&1 < /dev/null; ${script}`], {
        env: { PATH: `${join(work, "dist")}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, ROOT: root, NO_COLOR: "1", LANG: "C.UTF-8", HOME: work, TMPDIR: work },
        cwd: work,
        stdin: "ignore",
        stdout: "ignore",
        stderr: "ignore",
        timeout: 300_000,
      });
      prev = (await p.exited) ?? 128;
      const out = readFileSync(outFile, "utf8");
      const where = `${doc}:${step.line}: $ ${step.command}`;
      const diff = match(normalise(step.expected.join("\n")), normalise(out, root));
      if ((diff !== null || prev !== step.exit) && UPDATE) {
        const list = updates.get(doc) ?? [];
        list.push({ line: step.line, out, exit: prev });
        updates.set(doc, list);
      } else if (diff !== null || prev !== step.exit) {
        throw new Error(`${where}\n${diff ?? `exit ${prev}, the doc says ${step.exit}`}\n--- printed (exit ${prev}):\n${out}`);
      }
    }
  } finally {
    dropRoot(root);
    rmSync(work, { recursive: true, force: true });
  }
  expect(scene.steps.length).toBeGreaterThan(0);
}

/** One describe per doc, one test per scene. */
export function docTests(doc: string): void {
  const { scenes } = docScenes(doc);
  describe(doc, () => {
    afterAll(() => applyUpdates(doc));
    for (const s of scenes) test.concurrent(`line ${s.line}: fixture ${s.fixture} (${s.steps.length} command(s))`, () => inSlot(() => runScene(doc, s)), 1_800_000);
  });
}
