/** Compatibility probes, pure parts: the corpus parser, the comparison, the
 * scripts scanner and the per-command summary. */
import { describe, expect, test } from "bun:test";
import { corpusTexts, loadCorpus, overlay, parseCorpus } from "../../src/probes/corpus.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compareObservations, normalizedStdout, type Observation } from "../../src/probes/compare.ts";
import { countInvocations, invocationsIn } from "../../src/probes/scripts.ts";
import { scriptProbes, summarize } from "../../src/probes/check.ts";
import { applicable } from "../../src/probes/run.ts";
import { PkgswitchError } from "../../src/errors.ts";

const usage = (f: () => unknown, msg: string) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PkgswitchError);
    expect((e as PkgswitchError).exitCode).toBe(2);
    expect((e as Error).message).toContain(msg);
    return;
  }
  throw new Error("expected a usage error");
};

describe("corpus", () => {
  const corpus = loadCorpus(null);

  test("the built-in corpus parses and holds at least 200 probes over the commands scripts use most", () => {
    expect(corpus.probes.length).toBeGreaterThanOrEqual(200);
    const cmds = new Set(corpus.probes.map((p) => p.cmd));
    for (const c of ["cp", "install", "mv", "ln", "readlink", "realpath", "mktemp", "stat", "date", "sort", "uniq", "cut", "tr", "head", "tail", "wc", "basename", "dirname", "seq", "printf", "test", "chmod", "chown", "du", "df", "touch", "find", "xargs", "diff", "cmp", "sudo"]) {
      expect(cmds.has(c)).toBe(true);
    }
    expect(corpus.every.map((e) => e.id)).toEqual(["--version", "--help"]);
  });

  test("ids are unique; every probe compares at least one aspect", () => {
    expect(new Set(corpus.probes.map((p) => p.id)).size).toBe(corpus.probes.length);
    for (const p of corpus.probes) expect(p.compare.length).toBeGreaterThan(0);
  });

  test("strict: unknown keys, bad fixtures, args with sh, duplicates and bad regexes are usage errors naming the probe", () => {
    usage(() => parseCorpus(`{"probes": [{"id": "x", "cmd": "ls", "argz": []}]}`, "f.jsonc"), 'f.jsonc.probes[0] "x": unknown key "argz"');
    usage(() => parseCorpus(`{"probes": [{"id": "x", "cmd": "ls", "files": {"../out": "x"}}]}`, "f"), 'fixture path "../out"');
    usage(() => parseCorpus(`{"probes": [{"id": "x", "cmd": "ls", "files": {"/etc/x": "x"}}]}`, "f"), 'fixture path "/etc/x"');
    usage(() => parseCorpus(`{"probes": [{"id": "x", "cmd": "ls", "args": [], "sh": "ls"}]}`, "f"), 'give "args" or "sh"');
    usage(() => parseCorpus(`{"probes": [{"id": "x", "cmd": "ls"}, {"id": "x", "cmd": "cat"}]}`, "f"), 'probe id "x" appears twice');
    usage(() => parseCorpus(`{"probes": [{"id": "x", "cmd": "ls", "normalize": ["("]}]}`, "f"), "bad regular expression");
    usage(() => parseCorpus(`{"probes": [{"id": "x", "cmd": "ls", "compare": ["stdrr"]}]}`, "f"), 'unknown aspect "stdrr"');
    usage(() => parseCorpus(`{"__proto__": {"probes": []}}`, "f"), '"__proto__"');
    usage(() => parseCorpus(`{"version": 2}`, "f"), '"version" 2 is not supported');
    usage(() => parseCorpus(`{"probes": [ }`, "f"), "f: line 1");
  });

  test("a drop-in replaces a probe by id and adds new ones", () => {
    const text = `{"probes": [{"id": "cat-n", "cmd": "cat", "args": ["-b", "a.txt"]}, {"id": "site-1", "cmd": "ls", "args": ["-la"]}]}`;
    const c = overlay(corpus, parseCorpus(text, "d.jsonc"), text);
    expect(c.probes.length).toBe(corpus.probes.length + 1);
    expect(c.probes.find((p) => p.id === "cat-n")!.args).toEqual(["-b", "a.txt"]);
    expect(c.sources.length).toBe(2);
  });

  test("corpusTexts: the same texts and corpus as loadCorpus; a bad drop-in fails before any build", () => {
    const dir = mkdtempSync(join(tmpdir(), "pkgswitch-corpus-"));
    try {
      writeFileSync(join(dir, "b.jsonc"), `{"probes": [{"id": "site-2", "cmd": "ls", "args": ["-l"]}]}`);
      writeFileSync(join(dir, "a.jsonc"), `{"probes": [{"id": "cat-n", "cmd": "cat", "args": ["-b", "a.txt"]}]}`);
      const texts = corpusTexts(dir);
      const loaded = loadCorpus(dir);
      expect(texts.sources).toEqual(loaded.sources);
      expect(texts.sources.length).toBe(3);
      expect(texts.build()).toEqual(loaded);
      expect(texts.build()).toBe(texts.build());
      expect(corpusTexts(null).build()).toEqual(corpus);
      writeFileSync(join(dir, "c.jsonc"), `{"probes": [{"id": "x", "cmd": "ls", "argz": []}]}`);
      usage(() => corpusTexts(dir), 'c.jsonc.probes[0] "x": unknown key "argz"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("applicable: only probes whose commands are all switched, plus --version/--help per command", () => {
    const ps = applicable(corpus, new Set(["find"]));
    expect(ps.some((p) => p.id === "find-type-f")).toBe(true);
    expect(ps.some((p) => p.id === "find-print0-xargs0")).toBe(false); // needs xargs too
    expect(ps.filter((p) => p.id.startsWith("find:")).map((p) => p.id)).toEqual(["find:--help", "find:--version"]);
    expect(ps.map((p) => p.id)).toEqual([...ps.map((p) => p.id)].sort());
  });
});

const obs = (o: Partial<Observation>): Observation => ({ status: 0, stdout: "", stderr: "", files: [], timedOut: false, ...o });
const opts = { compare: ["stdout", "status", "files", "stderr"] as const, normalize: [], mtime: false, workDirs: ["/w/1-original", "/w/1-replacement"], now: 1_800_000_000 };

describe("comparison", () => {
  test("identical observations are the same; scratch paths do not count", () => {
    expect(compareObservations(obs({ stdout: "/w/1-original/a\n" }), obs({ stdout: "/w/1-replacement/a\n" }), opts)).toEqual({ verdict: "same" });
  });

  test("the first stdout line that differs is named", () => {
    const c = compareObservations(obs({ stdout: "a\nb\n" }), obs({ stdout: "a\nc\n" }), opts);
    expect(c).toEqual({ verdict: "differs", difference: 'stdout line 2: "b" vs "c"' });
  });

  test("exit status, stderr class, files, modes and link targets are compared", () => {
    expect(compareObservations(obs({ status: 0 }), obs({ status: 1 }), opts).difference).toBe("exit status 0 vs exit status 1");
    expect(compareObservations(obs({ stderr: "" }), obs({ stderr: "oops\n" }), opts).difference).toBe('stderr empty vs non-empty ("oops")');
    expect(compareObservations(obs({ stderr: "a" }), obs({ stderr: "b" }), opts).verdict).toBe("same");
    const f = { path: "x", kind: "file" as const, mode: 0o644, uid: 0, gid: 0, size: 1, sha256: "aa", mtime: 1 };
    expect(compareObservations(obs({ files: [f] }), obs({ files: [{ ...f, mode: 0o600 }] }), opts).difference).toBe("file x: mode 0644 vs 0600");
    expect(compareObservations(obs({ files: [f] }), obs({ files: [] }), opts).difference).toBe("file x: only with the original");
    expect(compareObservations(obs({ files: [] }), obs({ files: [f] }), opts).difference).toBe("file x: only with the replacement");
    const l = { ...f, kind: "symlink" as const, mode: 0, link: "a" };
    expect(compareObservations(obs({ files: [l] }), obs({ files: [{ ...l, link: "b" }] }), opts).difference).toBe("file x: symlink → a vs symlink → b");
    expect(compareObservations(obs({ files: [f] }), obs({ files: [{ ...f, mtime: 2 }] }), opts).verdict).toBe("same");
    expect(compareObservations(obs({ files: [f] }), obs({ files: [{ ...f, mtime: 2 }] }), { ...opts, mtime: true }).difference).toBe("file x: mtime 1 vs 2");
  });

  test("only the aspects a probe names are compared", () => {
    expect(compareObservations(obs({ stdout: "a" }), obs({ stdout: "b" }), { ...opts, compare: ["status"] }).verdict).toBe("same");
  });

  test("times near the run are <now>, so the report is the same from run to run", () => {
    expect(normalizedStdout("1577836800 1800000005\n", opts)).toBe("1577836800 <now>\n");
    const f = { path: "x", kind: "file" as const, mode: 0o644, uid: 0, gid: 0, size: 1, sha256: "aa", mtime: 1577836800 };
    expect(compareObservations(obs({ files: [f] }), obs({ files: [{ ...f, mtime: 1_800_000_100 }] }), { ...opts, mtime: true }).difference).toBe("file x: mtime 1577836800 vs <now>");
  });

  test("a rejected option is 'unsupported'; a command that does not start is too", () => {
    expect(compareObservations(obs({ status: 0 }), obs({ status: 1, stderr: "error: unexpected argument '-Q' found" }), opts).verdict).toBe("unsupported");
    expect(compareObservations(obs({ status: 0 }), obs({ status: 1, stderr: "ls: invalid option -- 'Q'" }), opts).verdict).toBe("unsupported");
    expect(compareObservations(obs({ status: 0 }), obs({ status: 127, stderr: "not found" }), opts).verdict).toBe("unsupported");
    expect(compareObservations(obs({ status: 0 }), obs({ status: 1, stderr: "some failure" }), opts).verdict).toBe("differs");
    expect(compareObservations(obs({}), obs({ error: "spawn ENOENT" }), opts).verdict).toBe("unsupported");
  });
});

describe("the root's scripts", () => {
  const cmds = new Set(["cp", "rm", "ln", "install", "mkdir", "chmod"]);

  test("commands at the start of a pipeline element, with their literal flags", () => {
    const text = [
      "#!/bin/sh",
      "set -e",
      "# cp -a is not called here",
      "if [ -e /x ]; then rm -f /x; fi",
      "ln -sfn /a /b && chmod 0644 /b",
      "FOO=1 install -D -m 0644 src dst",
      "x=$(mkdir -p /d) ; /bin/cp --preserve=mode a b",
      "cp -a \\",
      "  -v src dst",
      "rm -rf \"$dir\" -- -x",
      "echo cp -a not-a-call",
    ].join("\n");
    expect(invocationsIn(text, cmds)).toEqual([
      { cmd: "rm", flags: ["-f"] },
      { cmd: "ln", flags: ["-sfn"] },
      { cmd: "chmod", flags: [] },
      { cmd: "install", flags: ["-D", "-m"] },
      { cmd: "mkdir", flags: ["-p"] },
      { cmd: "cp", flags: ["--preserve=mode"] },
      { cmd: "cp", flags: ["-a", "-v"] },
      { cmd: "rm", flags: ["-rf"] },
    ]);
  });

  test("counted over scripts, most used first per command; probes use the corpus's operands", () => {
    const counted = countInvocations([{ path: "/s1", text: "rm -f a\nrm -f b\nrm -rf c\n" }, { path: "/s2", text: "rm -f z\ncp x y\n" }], cmds);
    expect(counted).toEqual([
      { cmd: "cp", flags: [], count: 1, files: ["/s2"] },
      { cmd: "rm", flags: ["-f"], count: 3, files: ["/s1", "/s2"] },
      { cmd: "rm", flags: ["-rf"], count: 1, files: ["/s1"] },
    ]);
    const probes = scriptProbes(loadCorpus(null), counted);
    expect([...probes.keys()]).toEqual(["script:rm -f", "script:rm -rf"]);
    expect(probes.get("script:rm -f")!.args).toEqual(["-f", "a.txt"]);
  });
});

test("summary: the worst verdict per command, with its first difference", () => {
  const s = summarize([
    { id: "a1", cmd: "a", verdict: "same", origin: "corpus" },
    { id: "a2", cmd: "a", verdict: "unsupported", difference: "u", origin: "corpus" },
    { id: "a3", cmd: "a", verdict: "differs", difference: "d", origin: "corpus" },
    { id: "b1", cmd: "b", verdict: "same", origin: "corpus" },
  ]);
  expect(s).toEqual([
    { cmd: "a", verdict: "differs", probes: 3, same: 1, differs: 1, unsupported: 1, first: { id: "a2", difference: "u" } },
    { cmd: "b", verdict: "same", probes: 1, same: 1, differs: 0, unsupported: 0 },
  ]);
});
