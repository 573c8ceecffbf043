/** The enable planner (src/switch/plan.ts): observations in, actions and
 * refusals out. Every refusal must happen before anything changes, so each
 * reason is checked on its own and in combination. */
import { describe, expect, test } from "bun:test";
import type { Applet } from "../../src/providers/discover.ts";
import { planEnable, type Observation, type PlanInput } from "../../src/switch/plan.ts";

const cargo = (n: string) => `/usr/lib/cargo/bin/coreutils/${n}`;
const applet = (name: string, dir = "/usr/bin"): Applet => ({
  applet: name,
  target: `${dir}/${name}`,
  linkTarget: cargo(name),
  replacedPackage: "coreutils",
  dbPath: `/bin/${name}`,
});

const FILE: Observation = { kind: "file", mode: 0o100755, uid: 0, gid: 0 };

function input(over: Partial<PlanInput> & { obs?: Record<string, Observation>; managed?: Record<string, string> } = {}): PlanInput {
  const applets = over.applets ?? [applet("ls")];
  const obs = over.obs ?? {};
  const managed = over.managed ?? {};
  return {
    applets,
    observe: over.observe ?? ((t) => obs[t] ?? FILE),
    owners: over.owners ?? new Map(applets.map((a) => [a.target, "coreutils"])),
    replaces: over.replaces ?? ["coreutils"],
    managedBy: over.managedBy ?? ((t) => managed[t] ?? null),
    provider: over.provider ?? "coreutils",
    setuidRequired: over.setuidRequired ?? new Set(),
    replacementIsSetuid: over.replacementIsSetuid ?? (() => false),
  };
}

describe("planEnable", () => {
  test("a regular file owned by the replaced package is switched", () => {
    const p = planEnable(input());
    expect(p.refusals).toEqual([]);
    expect(p.actions).toHaveLength(1);
    expect(p.actions[0]).toEqual({ applet: applet("ls"), kind: "switch", observed: FILE });
  });

  test("a symlink to something else owned by the replaced package is switched", () => {
    const obs = { kind: "symlink", linkText: "/usr/bin/elsewhere", mode: 0o120777 } as Observation;
    const p = planEnable(input({ obs: { "/usr/bin/ls": obs } }));
    expect(p.actions.map((a) => a.kind)).toEqual(["switch"]);
  });

  test("already switched: a symlink with exactly the link target → 'already', even when the owner would not match", () => {
    const obs: Observation = { kind: "symlink", linkText: cargo("ls") };
    const p = planEnable(input({ obs: { "/usr/bin/ls": obs }, owners: new Map(), managed: { "/usr/bin/ls": "coreutils" } }));
    expect(p.refusals).toEqual([]);
    expect(p.actions).toEqual([{ applet: applet("ls"), kind: "already", observed: obs }]);
  });

  test("a symlink to a similar but different text is not 'already'", () => {
    const obs: Observation = { kind: "symlink", linkText: cargo("ls") + "/" };
    expect(planEnable(input({ obs: { "/usr/bin/ls": obs } })).actions[0]!.kind).toBe("switch");
  });

  test("missing on disk → skip with a reason (not a refusal)", () => {
    const obs: Observation = { kind: "missing" };
    const p = planEnable(input({ obs: { "/usr/bin/ls": obs }, owners: new Map() }));
    expect(p.refusals).toEqual([]);
    expect(p.actions).toHaveLength(1);
    expect(p.actions[0]!.kind).toBe("skip");
    expect(p.actions[0]!.reason).toMatch(/missing/);
    expect(p.actions[0]!.observed).toBe(obs);
  });

  test("'other' kind (directory, device, fifo) → refusal", () => {
    const p = planEnable(input({ obs: { "/usr/bin/ls": { kind: "other" } } }));
    expect(p.actions).toEqual([]);
    expect(p.refusals).toEqual([{ target: "/usr/bin/ls", reason: "not a regular file or symlink" }]);
  });

  test("owner mismatch → refusal naming the owner and the expected packages", () => {
    const p = planEnable(input({ owners: new Map([["/usr/bin/ls", "busybox"]]), replaces: ["coreutils", "findutils"] }));
    expect(p.actions).toEqual([]);
    expect(p.refusals).toHaveLength(1);
    expect(p.refusals[0]!.target).toBe("/usr/bin/ls");
    expect(p.refusals[0]!.reason).toBe("owned by busybox, expected coreutils or findutils");
  });

  test("unowned (null, or absent from the owners map) → refusal 'owned by no package'", () => {
    for (const owners of [new Map<string, string | null>([["/usr/bin/ls", null]]), new Map<string, string | null>()]) {
      const p = planEnable(input({ owners }));
      expect(p.actions).toEqual([]);
      expect(p.refusals[0]!.reason).toBe("owned by no package, expected coreutils");
    }
  });

  test("owners are looked up by the canonical target, not the dbPath", () => {
    const p = planEnable(input({ owners: new Map([["/bin/ls", "coreutils"]]) }));
    expect(p.refusals).toHaveLength(1);
  });

  test("setuid original with a non-setuid replacement → skipped with the reason (never linked); with a setuid replacement → switch", () => {
    const a = { ...applet("su"), linkTarget: "/usr/lib/cargo/bin/su" };
    const obs = { "/usr/bin/su": { kind: "file", mode: 0o104755, uid: 0, gid: 0 } as Observation };
    const asked: string[] = [];
    const refused = planEnable(input({ applets: [a], obs, replacementIsSetuid: (t) => (asked.push(t), false) }));
    expect(refused.refusals).toEqual([]);
    expect(refused.actions.map((x) => [x.kind, x.reason])).toEqual([["skip", "original is setuid but replacement /usr/lib/cargo/bin/su is not setuid root; the original stays"]]);
    expect(asked).toEqual(["/usr/lib/cargo/bin/su"]);
    const ok = planEnable(input({ applets: [a], obs, replacementIsSetuid: () => true }));
    expect(ok.actions.map((x) => x.kind)).toEqual(["switch"]);
  });

  test("setuidRequired applies even when the original on disk is not setuid (mode 0755)", () => {
    const a = applet("sudo");
    expect(planEnable(input({ applets: [a], setuidRequired: new Set(["sudo"]) })).actions[0]!.kind).toBe("skip");
    expect(planEnable(input({ applets: [a], setuidRequired: new Set(["sudo"]), replacementIsSetuid: () => true })).actions[0]!.kind).toBe("switch");
    // not required, not setuid: the replacement is not even asked
    let calls = 0;
    planEnable(input({ applets: [a], replacementIsSetuid: () => (calls++, false) }));
    expect(calls).toBe(0);
  });

  test("setgid alone (02755) is not setuid", () => {
    const p = planEnable(input({ obs: { "/usr/bin/ls": { kind: "file", mode: 0o102755 } } }));
    expect(p.actions.map((x) => x.kind)).toEqual(["switch"]);
  });

  test("managed by another provider → refusal before anything else (even 'already'-looking and missing targets)", () => {
    for (const obs of [FILE, { kind: "missing" } as Observation, { kind: "symlink", linkText: cargo("ls") } as Observation]) {
      const p = planEnable(input({ obs: { "/usr/bin/ls": obs }, managed: { "/usr/bin/ls": "busybox" } }));
      expect(p.actions).toEqual([]);
      expect(p.refusals).toEqual([{ target: "/usr/bin/ls", reason: 'already switched by provider "busybox"; disable it first' }]);
    }
  });

  test("managed by the same provider is not a refusal", () => {
    const p = planEnable(input({ managed: { "/usr/bin/ls": "coreutils" } }));
    expect(p.refusals).toEqual([]);
    expect(p.actions[0]!.kind).toBe("switch");
  });

  test("a mixed batch: every applet gets exactly one outcome, in input order", () => {
    const names = ["a", "b", "c", "d", "e", "f"];
    const applets = names.map((n) => applet(n));
    const p = planEnable(
      input({
        applets,
        obs: {
          "/usr/bin/b": { kind: "symlink", linkText: cargo("b") },
          "/usr/bin/c": { kind: "missing" },
          "/usr/bin/d": { kind: "other" },
        },
        owners: new Map([
          ["/usr/bin/a", "coreutils"],
          ["/usr/bin/e", "util-linux"],
          ["/usr/bin/f", "coreutils"],
        ]),
        managed: { "/usr/bin/f": "uutils-other" },
      }),
    );
    expect(p.actions.map((a) => [a.applet.applet, a.kind])).toEqual([
      ["a", "switch"],
      ["b", "already"],
      ["c", "skip"],
    ]);
    expect(p.refusals.map((r) => r.target)).toEqual(["/usr/bin/d", "/usr/bin/e", "/usr/bin/f"]);
  });

  test("observe is called once per applet with the target", () => {
    const seen: string[] = [];
    planEnable(input({ applets: [applet("ls"), applet("cat")], observe: (t) => (seen.push(t), FILE) }));
    expect(seen).toEqual(["/usr/bin/ls", "/usr/bin/cat"]);
  });
});
