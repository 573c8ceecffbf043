/** Runs a doc's scenes (./doctest.ts) with bun:test: one test per scene,
 * each on a fresh throwaway root in the scene's fixture state. Commands run
 * in bash, in a scratch directory holding `dist/pkgswitch` (a link to the
 * built binary, also on PATH as `pkgswitch`), with `$ROOT` set; exported
 * variables, the working directory and `$?` carry over from one command to
 * the next, as in one terminal. */
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, PROJECT } from "../helpers/paths.ts";
import { match, normalise, parseDoc, type Scene } from "./doctest.ts";
import { FIXTURES, dropRoot } from "./fixtures.ts";

/** Docs whose every command block is a test (tests/docs/coverage.test.ts). */
export const DOC_TESTED = ["docs/recovery.md"];

export function docScenes(doc: string) {
  return parseDoc(readFileSync(join(PROJECT, doc), "utf8"), doc);
}

function runScene(doc: string, scene: Scene): void {
  const make = FIXTURES[scene.fixture];
  if (!make) throw new Error(`${doc}:${scene.line}: unknown fixture "${scene.fixture}" (known: ${Object.keys(FIXTURES).join(", ")})`);
  const root = make();
  const work = mkdtempSync("/tmp/pkgswitch-doctest-");
  try {
    mkdirSync(join(work, "dist"));
    symlinkSync(BINARY, join(work, "dist/pkgswitch"));
    for (const f of scene.files) writeFileSync(join(work, f.name), f.content);
    const shellState = join(work, ".shell-state");
    writeFileSync(shellState, `cd ${JSON.stringify(work)}\n`);
    let prev = 0;
    for (const step of scene.steps) {
      const script = `. ${JSON.stringify(shellState)}; (exit ${prev}); ${step.command}\n__rc=$?; { export -p; printf 'cd %q\\n' "$PWD"; } > ${JSON.stringify(shellState)}; exit $__rc`;
      const p = Bun.spawnSync(["bash", "-c", `exec 2>&1; ${script}`], {
        env: { PATH: `${join(work, "dist")}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, ROOT: root, NO_COLOR: "1", LANG: "C.UTF-8", HOME: work },
        cwd: work,
        stdin: "ignore",
        timeout: 300_000,
      });
      const out = p.stdout.toString();
      prev = p.exitCode ?? 128;
      const where = `${doc}:${step.line}: $ ${step.command}`;
      const diff = match(normalise(step.expected.join("\n")), normalise(out, root));
      if (diff !== null || prev !== step.exit) {
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
    for (const s of scenes) test(`line ${s.line}: fixture ${s.fixture} (${s.steps.length} command(s))`, () => runScene(doc, s), 900_000);
  });
}
