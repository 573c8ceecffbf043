/** Generate docs/compatibility.md from real runs: for each Debian release's
 * cached root (scripts/make-root.sh RELEASE), install each replacement with
 * pkgswitch and run `pkgswitch check PROVIDER --json`; write the matrix.
 *   npx bun scripts/compat-matrix.ts           # rewrite docs/compatibility.md
 *   npx bun scripts/compat-matrix.ts --check   # exit 1 when the file differs
 * As root, after `npm run build`. Every root is a throwaway copy. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const PROJECT = resolve(import.meta.dir, "..");
const BINARY = join(PROJECT, "dist/pkgswitch");
const DOC = join(PROJECT, "docs/compatibility.md");
const ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", NO_COLOR: "1", LC_ALL: "C" };

/** Release → providers checked there, with packages installed first. */
const MATRIX: Array<{ release: string; label: string; providers: Array<{ name: string; install: string[] }> }> = [
  { release: "bookworm", label: "Debian 12 (bookworm)", providers: [{ name: "coreutils", install: ["rust-coreutils"] }] },
  {
    release: "trixie",
    label: "Debian 13 (trixie)",
    providers: [
      { name: "coreutils", install: ["rust-coreutils"] },
      { name: "findutils", install: ["rust-findutils"] },
      { name: "diffutils", install: ["rust-diffutils"] },
      { name: "sudo-rs", install: ["sudo", "sudo-rs"] },
    ],
  },
  { release: "sid", label: "Debian sid", providers: [{ name: "coreutils", install: ["rust-coreutils"] }, { name: "findutils", install: ["rust-findutils"] }] },
];

interface Report {
  packages: Array<{ name: string; version: string; role: string }>;
  probes: number;
  same: number;
  differs: number;
  unsupported: number;
  commands: Array<{ cmd: string; verdict: string; probes: number; differs: number; unsupported: number; first?: { id: string; difference: string } }>;
  scripts: { files: number };
}

function run(argv: string[], what: string): string {
  const p = Bun.spawnSync(argv, { env: ENV, stdin: "ignore" });
  if (p.exitCode !== 0) throw new Error(`${what} failed (exit ${p.exitCode}): ${p.stderr.toString().trim().split("\n").pop()}`);
  return p.stdout.toString();
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

function section(label: string, reports: Array<{ provider: string; r: Report }>): string {
  const out = [`## ${label}`, ""];
  out.push("| provider | packages | probes | same | differ | unsupported |", "|---|---|---:|---:|---:|---:|");
  for (const { provider, r } of reports) {
    const pk = r.packages.map((p) => `${p.name} ${p.version}`).join(" → ");
    out.push(`| ${provider} | ${cell(pk)} | ${r.probes} | ${r.same} | ${r.differs} | ${r.unsupported} |`);
  }
  for (const { provider, r } of reports) {
    const bad = r.commands.filter((c) => c.verdict !== "same");
    const same = r.commands.filter((c) => c.verdict === "same").map((c) => c.cmd);
    out.push("", `### ${provider}`, "");
    if (bad.length) {
      out.push("| command | verdict | probes not matching | first difference |", "|---|---|---:|---|");
      for (const c of bad) out.push(`| \`${cell(c.cmd)}\` | ${c.verdict} | ${c.differs + c.unsupported} of ${c.probes} | \`${cell(c.first!.id)}\`: ${cell(c.first!.difference)} |`);
      out.push("");
    }
    out.push(same.length ? `Same in every probe: ${same.map((c) => `\`${c}\``).join(", ")}.` : "No command matched in every probe.");
  }
  return out.join("\n");
}

const sections: string[] = [];
for (const m of MATRIX) {
  const cache = run(["bash", join(PROJECT, "scripts/make-root.sh"), m.release], `make-root.sh ${m.release}`).trim();
  const root = mkdtempSync(`/tmp/pkgswitch-compat-${m.release}-`);
  try {
    run(["cp", "-a", `${cache}/.`, root], `cp -a ${cache}`);
    run(["mount", "-t", "proc", "proc", join(root, "proc")], "mount /proc");
    const reports: Array<{ provider: string; r: Report }> = [];
    for (const p of m.providers) {
      run([BINARY, "--root", root, "pkg", "install", ...p.install, "--yes", "-q"], `${m.release}: pkg install ${p.install.join(" ")}`);
      reports.push({ provider: p.name, r: JSON.parse(run([BINARY, "--root", root, "check", p.name, "--json"], `${m.release}: check ${p.name}`)) as Report });
      process.stderr.write(`compat-matrix: ${m.release} ${p.name} done\n`);
    }
    sections.push(section(m.label, reports));
  } finally {
    Bun.spawnSync(["umount", join(root, "proc")]);
    rmSync(root, { recursive: true, force: true });
  }
}

const doc = `# Compatibility: the original and the replacement side by side

Generated from real runs by \`npx bun scripts/compat-matrix.ts\` (as root,
after \`npm run build\`): on a throwaway copy of each release's debootstrap
root, \`pkgswitch pkg install\` the replacement, then \`pkgswitch check
PROVIDER --json\`. Do not edit by hand: CI re-runs the script with \`--check\`
and fails when this file no longer matches.

Each probe runs the same command line with the original and with the
replacement, in identical scratch directories (LC_ALL=C, TZ=UTC, fixed
fixtures and time stamps), and compares stdout, exit status, the files left
behind and whether stderr was empty. "unsupported" means the replacement
rejected what the original accepted (an unknown option, or it could not
start). The corpus is \`src/providers/probes.jsonc\`; the flag sets that each
root's own maintainer scripts use are probed too. Run \`pkgswitch check
PROVIDER\` on your own system before \`enable\`: it speaks about that system.

${sections.join("\n\n")}
`;

if (process.argv.includes("--check")) {
  const current = readFileSync(DOC, "utf8");
  if (current !== doc) {
    const a = current.split("\n");
    const b = doc.split("\n");
    const i = a.findIndex((l, k) => l !== b[k]);
    console.error(`docs/compatibility.md is out of date (first difference at line ${i + 1}): re-run npx bun scripts/compat-matrix.ts`);
    console.error(`  file:      ${a[i] ?? "(end)"}\n  generated: ${b[i] ?? "(end)"}`);
    process.exit(1);
  }
  console.log("docs/compatibility.md matches the generated matrix");
} else {
  writeFileSync(DOC, doc);
  console.log(`wrote ${DOC}`);
}
