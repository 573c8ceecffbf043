/** Every command block of a doc-tested page is run by a test, and the
 * doc-test parser and matcher tell a wrong transcript from a right one. */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { PROJECT } from "../helpers/paths.ts";
import { match, normalise, parseDoc } from "./doctest.ts";
import { FIXTURES } from "./fixtures.ts";
import { DOC_TESTED, docScenes } from "./run.ts";

describe("doc-tested pages", () => {
  for (const doc of DOC_TESTED) {
    test(`${doc}: every command block runs in a known fixture, and has a test file`, () => {
      const { scenes, problems } = docScenes(doc);
      expect(problems).toEqual([]);
      expect(scenes.length).toBeGreaterThan(0);
      expect(scenes.filter((s) => !(s.fixture in FIXTURES)).map((s) => `${doc}:${s.line}: ${s.fixture}`)).toEqual([]);
      const base = doc.replace(/^docs\//, "").replace(/\.md$/, "");
      expect(existsSync(join(PROJECT, "tests/docs", `${base}.test.ts`))).toBe(true);
    });
  }
});

describe("the doc-test format", () => {
  const page = [
    "<!-- doctest: fixture=bookworm -->",
    "```console",
    "$ pkgswitch --root \"$ROOT\" status",
    "no provider is enabled",
    "$ false",
    "(exit 1)",
    "```",
    "",
    "    $ an indented command",
    "",
    "```sh",
    "$ a prompt in a sh block",
    "```",
  ].join("\n");

  test("scenes, steps and exit codes are parsed; unrunnable command blocks are problems", () => {
    const { scenes, problems } = parseDoc(page, "x.md");
    expect(scenes).toHaveLength(1);
    expect(scenes[0]!.steps.map((s) => [s.command, s.expected, s.exit, s.line])).toEqual([
      ['pkgswitch --root "$ROOT" status', ["no provider is enabled"], 0, 3],
      ["false", [], 1, 5],
    ]);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain("x.md:9: an indented command block");
    expect(problems[1]).toContain("x.md:11:");
    expect(parseDoc("```console\n$ true\n```\n", "y.md").problems[0]).toContain("before any <!-- doctest: fixture");
  });

  test("the matcher compares for real: wildcards, normalised ids, and a wrong line fails", () => {
    const doc = normalise("error: x [op 20261127T065021Z-d7606b4c]\n…\nSetting up coreutils (9.1-1) ...\ncoreutils: … switched");
    const ok = normalise("error: x [op 20261130T101010Z-0123abcd]\nfoo\nbar\nSetting up coreutils (9.1-1) ...\ncoreutils: 3/3 switched");
    expect(match(doc, ok)).toBeNull();
    const bad = normalise("error: x [op 20261130T101010Z-0123abcd]\nSetting up coreutils (9.1-2) ...\ncoreutils: 3/3 switched");
    expect(match(doc, bad)).toContain("Setting up coreutils (9.1-1)");
    expect(match(normalise("a\nb"), normalise("a\nb\nc"))).toContain("(end of output)");
    expect(match(normalise(`${"/tmp/pkgswitch-doc-aB12"}/x`), normalise("/tmp/pkgswitch-doctest-ZZ/x", "/tmp/pkgswitch-doctest-ZZ"))).toBeNull();
    expect(match(normalise("op.start relink (root /, pkgswitch 0.4.0)"), normalise("op.start relink (root /, pkgswitch 0.5.1)"))).toBeNull();
    // mktemp's names vary; what is around them does not.
    expect(match(normalise("wrote /tmp/pkgswitch-doctest-A/tmp.ib8nViQLZ9/x.json"), normalise("wrote /tmp/pkgswitch-doctest-B/tmp.YgDqqBt2Kf/x.json"))).toBeNull();
    expect(match(normalise("wrote /tmp/pkgswitch-doctest-A/tmp.ib8nViQLZ9/x.json"), normalise("wrote /tmp/pkgswitch-doctest-B/tmp.YgDqqBt2Kf/y.json"))).not.toBeNull();
    // An overlay root (…/root) shown in a doc is $ROOT too, not $ROOT/root.
    expect(match(normalise("/tmp/pkgswitch-doc-aB12/root/etc/x"), normalise("/tmp/pkgswitch-doc-Q9/root/etc/x", "/tmp/pkgswitch-doc-Q9/root"))).toBeNull();
    expect(match(normalise("/tmp/pkgswitch-doc-aB12/root/etc/x"), normalise("/tmp/pkgswitch-doc-Q9/root/etc/y", "/tmp/pkgswitch-doc-Q9/root"))).not.toBeNull();
  });
});
