/** The probes' work dirs are kept from run to run while no run changes them
 * (src/probes/run.ts WorkDir): every probe must still start from exactly the
 * fixtures, with their fixed times, whatever the probes before it did.
 *
 * Each check here is made visible in a verdict: the "original" side runs the
 * real command on the work dir, the "replacement" side a script that prints
 * what a fresh layout shows. The verdict is "same" only if the original side
 * saw fresh fixtures. Runs with the root "/" in a temp dir of its own (the
 * probes read and write only there), one worker, probes in the order given. */
import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Corpus, Probe } from "../../src/probes/corpus.ts";
import { FIXTURE_TIME, runProbes, type CommandPair } from "../../src/probes/run.ts";

const dir = mkdtempSync(join(tmpdir(), "pkgswitch-probe-workdirs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A "replacement" that prints fixed text, whatever it is given. */
function printer(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\nprintf '${text}'\n`);
  chmodSync(p, 0o755);
  return p;
}

const corpus: Corpus = {
  version: 1,
  fixtures: { "a.txt": "hello\n", "d/x": "x\n", "d/y": "y\n" },
  every: [],
  probes: [],
  templates: {},
  sources: [],
};

const probe = (id: string, cmd: string, sh: string, uses: string[] = [cmd]): Probe => ({ id, cmd, args: [], sh, uses, files: {}, compare: ["stdout", "status"], normalize: [], mtime: false });

test("each probe starts from fresh fixtures: content, names, times, modes", async () => {
  const pairs: CommandPair[] = [
    // The command under test in the "change" probes: the same on both sides.
    { applet: "sh", original: { inRoot: "/bin/sh" }, replacement: "/bin/sh" },
    // The observers: the real tools against what a fresh layout shows.
    { applet: "see-show", original: { inRoot: "/bin/cat" }, replacement: printer("see-show", "hello\\n") },
    { applet: "see-times", original: { inRoot: "/usr/bin/stat" }, replacement: printer("see-times", `${FIXTURE_TIME} ${FIXTURE_TIME}\\n`) },
    { applet: "see-names", original: { inRoot: "/bin/ls" }, replacement: printer("see-names", "x\\ny\\n") },
    { applet: "see-modes", original: { inRoot: "/usr/bin/stat" }, replacement: printer("see-modes", "644\\n") },
  ];
  const probes: Probe[] = [
    // Read only: the dir is kept, but the read set a.txt's access time.
    probe("01-read", "sh", "cat a.txt d/x >/dev/null"),
    probe("02-times", "see-times", "see-times -c '%X %Y' a.txt"),
    // Changes of every kind, each followed by the observer that would see it.
    probe("03-append", "sh", "echo more >> a.txt"),
    probe("04-show", "see-show", "see-show a.txt"),
    probe("05-add", "sh", "echo z > d/z"),
    probe("06-names", "see-names", "see-names d"),
    probe("07-remove", "sh", "rm d/y"),
    probe("08-names", "see-names", "see-names d"),
    probe("09-chmod", "sh", "chmod 600 a.txt"),
    probe("10-modes", "see-modes", "see-modes -c %a a.txt"),
    // Rewritten with the same bytes and its time put back: a new inode.
    probe("11-replace", "sh", "cp a.txt t && rm a.txt && mv t a.txt && touch -d @" + FIXTURE_TIME + " a.txt ."),
    probe("12-times", "see-times", "see-times -c '%X %Y' a.txt"),
    probe("13-show", "see-show", "see-show a.txt"),
  ];
  const parent = join(dir, "scratch");
  mkdirSync(parent);
  const results = await runProbes("/", parent, corpus, pairs, probes, () => "corpus", 1);
  const verdicts = Object.fromEntries(results.map((r) => [r.id, r.difference ? `${r.verdict}: ${r.difference}` : r.verdict]));
  expect(verdicts).toEqual(Object.fromEntries(probes.map((p) => [p.id, "same"])));
  // Nothing is left behind: the scratch dir and every work dir are gone.
  expect(readdirSync(parent)).toEqual([]);
});
