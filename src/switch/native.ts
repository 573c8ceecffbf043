/** Native switches (docs/native.md): on a root where the distribution
 * itself switches a provider — two packages that own the command paths in
 * turn, or an alternatives group — pkgswitch puts none of its own links
 * over those package-owned files. `enable`/`disable` drive that mechanism
 * through the backend instead, as an attested operation: preflight (the
 * package manager's own simulation, setuid of the new side), before/after
 * state of every switched path, the switch, a smoke test, and a switch
 * back on any failure. Plan → preflight → apply → attest → verify. */
import { lstatSync, readlinkSync } from "node:fs";
import { hostPath } from "../config/paths.ts";
import { Exit, PkgswitchError } from "../errors.ts";
import type { HashCache } from "../hashing/cache.ts";
import { toPackageInfo, type NativeFacts, type NativeSide, type NativeSpec, type PackageBackend } from "../pkgmgr/backend.ts";
import type { PackageInfo } from "../pkgmgr/types.ts";
import type { Provider } from "../providers/catalog.ts";
import { executableInfo, resolveInRoot, resolvedDigest } from "./observe.ts";
import { smokeTest } from "./smoke.ts";
import type { OpContext, OpOutcome } from "./session.ts";

export interface NativeProvider {
  provider: Provider;
  spec: NativeSpec;
  facts: NativeFacts;
}

/** The providers among `providers` that switch natively on this root. */
export function nativeProviders(backend: PackageBackend, providers: Provider[]): NativeProvider[] {
  const out: NativeProvider[] = [];
  if (!backend.native) return out;
  for (const p of providers) {
    const spec = p.recipes[backend.kind]?.native;
    const facts = spec ? backend.native.facts(spec) : null;
    if (spec && facts) out.push({ provider: p, spec, facts });
  }
  return out;
}

/** What a switched path is, for the record: kind, link text, the SHA-256
 * and mode of what it resolves to inside the root. */
export interface PathState {
  kind: "missing" | "symlink" | "file" | "other";
  link_target: string | null;
  sha256: string | null;
  mode: number | null;
  uid: number | null;
}

export function pathState(root: string, path: string, cache: HashCache): PathState {
  const host = hostPath(root, path);
  const st = lstatSync(host, { throwIfNoEntry: false });
  if (!st) return { kind: "missing", link_target: null, sha256: null, mode: null, uid: null };
  const link = st.isSymbolicLink();
  const resolved = resolvedDigest(root, path, cache);
  // Mode and owner of what runs: the resolved file (setuid lives there).
  const info = link ? lstatOfResolved(root, path) : st;
  return { kind: link ? "symlink" : st.isFile() ? "file" : "other", link_target: link ? readlinkSync(host) : null, sha256: resolved, mode: info ? info.mode & 0o7777 : null, uid: info ? info.uid : null };
}

/** lstat of the file a path finally resolves to inside the root. */
function lstatOfResolved(root: string, path: string) {
  const host = resolveInRoot(root, path);
  return host ? lstatSync(host, { throwIfNoEntry: false }) ?? null : null;
}

const sideName = (spec: NativeSpec, side: NativeSide) => spec[side];

/** Switch every native provider to `side` (enable: replacement; disable: original). */
export async function switchNative(ctx: OpContext, natives: NativeProvider[], side: NativeSide): Promise<OpOutcome> {
  const { op, session, backend, cache } = ctx;
  const root = session.layout.root;
  const native = backend.native!;
  const plans: Array<NativeProvider & { from: string | null; to: string; install: string[]; remove: string[]; already: boolean }> = [];
  for (const n of natives) {
    const to = sideName(n.spec, side);
    const already = n.facts.active === side;
    op.record("preflight.check", { check: "native", provider: n.provider.name, mechanism: n.spec.kind, active: n.facts.activeName, wanted: to, already, ok: true });
    if (already) {
      plans.push({ ...n, from: n.facts.activeName, to, install: [], remove: [], already });
      continue;
    }
    // The package manager's own answer, before any change (exit 10/20).
    const { install, remove } = native.plan(n.spec, side);
    // A setuid command (sudo) must stay setuid root on the new side.
    if (n.spec.kind === "alternative" && n.provider.setuid.includes(n.spec.name)) {
      const info = executableInfo(root, to);
      if (!info.setuidRoot) {
        op.record("preflight.check", { check: "target", path: to, ok: false, reason: "not setuid root" });
        throw new PkgswitchError(Exit.PREFLIGHT, `preflight refused ${n.spec.name}: ${to} is ${info.exists ? "not setuid root" : "missing"}; ${n.spec.name} must stay setuid root`);
      }
    }
    op.record("preflight.check", { check: "plan", provider: n.provider.name, mechanism: n.spec.kind, install, remove, switch: n.facts.paths.length, ok: true });
    plans.push({ ...n, from: n.facts.activeName, to, install, remove, already });
  }
  const summary = plans.map((p) => ({ provider: p.provider.name, native: p.spec.kind, from: p.from, to: p.to, install: p.install, remove: p.remove, paths: p.facts.paths.length, already: p.already }));
  const versionsBefore = backend.versions();
  const involved = (names: string[]) => {
    const inst = backend.installed(names);
    const repos = backend.sourceRepos([...inst.keys()]);
    return { inst, repos };
  };
  if (session.dryRun) {
    const { inst, repos } = involved(plans.flatMap((p) => p.facts.packages));
    const packages = [...inst.values()].map((p) => toPackageInfo(backend, p, repos.get(p.name) ?? "unknown", "involved", []));
    return { status: "dry_run", exitCode: Exit.OK, packages, result: { dry_run: true, plan: summary } };
  }

  let switched = 0;
  for (const p of plans.filter((x) => !x.already)) {
    const before = new Map(p.facts.paths.map((path) => [path, pathState(root, path, cache)]));
    const t0 = performance.now();
    const back: NativeSide = side === "replacement" ? "original" : "replacement";
    try {
      native.apply(p.spec, side);
      const now = native.facts(p.spec);
      if (now?.active !== side) throw new PkgswitchError(Exit.PKGMGR, `${p.provider.name}: after the switch ${now?.activeName ?? "nothing"} is active, not ${p.to}`);
      const missing = now.paths.filter((path) => pathState(root, path, cache).kind === "missing");
      if (missing.length > 0) throw new PkgswitchError(Exit.PKGMGR, `${p.provider.name}: ${missing.length} path(s) missing after the switch, first ${missing[0]}`);
      if (session.config.smokeTest) {
        const targets = now.paths.filter((path) => !path.startsWith("/etc/"));
        const results = await smokeTest(root, targets);
        const failed = results.filter((r) => !r.ok);
        op.record("smoke.test", { tested: results.length, failed: failed.length, failures: failed.slice(0, 20).map((f) => ({ path: f.target, rc: f.rc, signal: f.signal ?? null, output: f.output })), duration_ms: Math.max(0, ...results.map((r) => r.durationMs)) });
        if (failed.length > 0) throw new PkgswitchError(Exit.ROLLED_BACK, `smoke test failed for ${failed.length} command(s), first ${failed[0]!.target}`);
      }
      if (p.spec.kind === "alternative" && p.provider.setuid.includes(p.spec.name) && !executableInfo(root, now.paths[0]!).setuidRoot) {
        throw new PkgswitchError(Exit.ROLLED_BACK, `${now.paths[0]} is not setuid root after the switch`);
      }
      const paths = [...new Set([...p.facts.paths, ...now.paths])].sort();
      for (const path of paths) {
        const b = before.get(path) ?? pathState(root, "/nonexistent-path-for-pkgswitch", cache);
        const a = pathState(root, path, cache);
        if (b.kind === a.kind && b.link_target === a.link_target && b.sha256 === a.sha256 && b.mode === a.mode) continue;
        op.record("native.file", { provider: p.provider.name, path, before_kind: b.kind, before_link_target: b.link_target, before_sha256: b.sha256, after_kind: a.kind, after_link_target: a.link_target, after_sha256: a.sha256, mode: a.mode, uid: a.uid });
        switched++;
      }
      op.record("native.switch", { provider: p.provider.name, mechanism: p.spec.kind, from: p.from, to: p.to, installed: p.install, removed: p.remove, duration_ms: Math.round(performance.now() - t0) });
      session.out.detail(`${p.provider.name}: ${p.from ?? "nothing"} → ${p.to} (${p.spec.kind === "packages" ? "packages" : `alternative ${p.spec.name}`})`);
    } catch (e) {
      const why = (e as Error).message;
      let backOk = false;
      try {
        if (native.facts(p.spec)?.active !== back && p.from !== null) native.apply(p.spec, back);
        backOk = native.facts(p.spec)?.active === back || p.from === null;
      } catch (e2) {
        op.record("rollback.step", { path: p.facts.paths[0] ?? p.to, action: "native switch back", ok: false, error: (e2 as Error).message });
      }
      if (backOk) {
        op.record("rollback.step", { path: p.facts.paths[0] ?? p.to, action: "native switch back", ok: true });
        throw new PkgswitchError(Exit.ROLLED_BACK, `${why}; switched ${p.provider.name} back to ${p.from}, system is as before`);
      }
      throw new PkgswitchError(Exit.ROLLBACK_INCOMPLETE, `${why}; switching ${p.provider.name} back to ${p.from} failed too — see docs/native.md#when-a-native-switch-fails`);
    }
  }

  // Provenance of every package whose version changed, and the SBOM.
  const versionsAfter = backend.versions();
  const changed = [...new Set([...versionsBefore.keys(), ...versionsAfter.keys()])].filter((n) => versionsBefore.get(n) !== versionsAfter.get(n)).sort();
  const { inst, repos } = involved([...new Set([...changed, ...plans.flatMap((p) => [...p.facts.packages, p.spec.kind === "packages" ? p.to : ""]).filter(Boolean)])]);
  const packages: PackageInfo[] = [];
  for (const n of changed) {
    const role: PackageInfo["role"] = !versionsBefore.has(n) ? "installed" : !versionsAfter.has(n) ? "removed" : "upgraded";
    const repo = repos.get(n) ?? "unknown";
    op.record("provenance", { package: n, version_before: versionsBefore.get(n) ?? null, version_after: versionsAfter.get(n) ?? null, source_repo: inst.has(n) ? repo : "none", foreign: inst.has(n) ? repo === "local" || repo === "unknown" : false, role });
    if (role === "removed") packages.push({ name: n, version: versionsBefore.get(n)!, arch: "unknown", manager: backend.kind, distro: backend.distro, sourceRepo: "unknown", role, applets: [] });
  }
  for (const p of inst.values()) {
    const role: PackageInfo["role"] = changed.includes(p.name) ? (versionsBefore.has(p.name) ? "upgraded" : "installed") : "involved";
    packages.push(toPackageInfo(backend, p, repos.get(p.name) ?? "unknown", role, []));
  }
  return { status: "ok", exitCode: Exit.OK, packages, counts: { native: plans.filter((p) => !p.already).length, paths_changed: switched, packages_changed: changed.length }, result: { plan: summary } };
}
