/** The command line as a user meets it: help everywhere, version, usage
 * errors, generated completion and man page, JSON and colour switches. */
import { describe, expect, test } from "bun:test";
import { COMMANDS } from "../../src/cli/commands.ts";
import { pkgswitch } from "../helpers/cli.ts";

describe("command line", () => {
  test("--version", () => {
    const r = pkgswitch(["--version"]);
    expect(r).toMatchObject({ code: 0, stdout: `pkgswitch ${require("../../package.json").version}\n` });
  });

  test("--help lists every command; no command is a usage error", () => {
    const r = pkgswitch(["--help"]);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toContain(c.path.join(" "));
    expect(pkgswitch([]).code).toBe(2);
  });

  for (const c of COMMANDS) {
    test(`${c.path.join(" ")} --help`, () => {
      const r = pkgswitch([...c.path, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`usage: pkgswitch [global options] ${c.path.join(" ")}`);
      for (const o of Object.keys(c.options)) expect(r.stdout).toContain(`--${o}`);
    });
  }

  test("unknown command, unknown option, option of another command → 2 with one line", () => {
    for (const argv of [["frobnicate"], ["status", "--bogus"], ["status", "--remove-package"], ["audit", "nosuch"]]) {
      const r = pkgswitch(argv);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n").length).toBe(1);
    }
  });

  test("an empty path for --root, --state-dir, --audit-dir, --config or --key → 2 with one line (never the current directory)", () => {
    for (const argv of [["--root", "", "status"], ["--root=", "list"], ["--state-dir", "", "status"], ["--audit-dir=", "audit", "list"], ["--config", "", "status"], ["--key", "", "hooks", "install"]]) {
      const r = pkgswitch(argv);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^error: --[a-z-]+: the path is empty; give a directory or file path\n$/);
    }
  });

  test("completion scripts name every top-level command; bash's parses", () => {
    const tops = [...new Set(COMMANDS.map((c) => c.path[0]!))];
    for (const shell of ["bash", "zsh", "fish"]) {
      const r = pkgswitch(["completion", shell]);
      expect(r.code).toBe(0);
      for (const t of tops) expect(r.stdout).toContain(t);
    }
    const bash = pkgswitch(["completion", "bash"]).stdout;
    expect(Bun.spawnSync(["bash", "-n", "-c", bash]).exitCode).toBe(0);
    expect(pkgswitch(["completion", "tcsh"]).code).toBe(2);
  });

  test("man page is roff that man(1)-style tools accept", () => {
    const r = pkgswitch(["man"]);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith(".TH PKGSWITCH 8")).toBe(true);
    for (const s of [".SH NAME", ".SH SYNOPSIS", ".SH COMMANDS", ".SH EXIT STATUS", ".SH FILES"]) expect(r.stdout).toContain(s);
  });

  test("--json errors are JSON too; NO_COLOR output has no escape codes", () => {
    const r = pkgswitch(["--root", "/nonexistent-root", "status", "--json"]);
    expect(r.code).not.toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ exit_code: r.code });
    expect(pkgswitch(["--help"], { env: { NO_COLOR: "1" } }).stdout).not.toContain("\x1b[");
  });
});
