/** `--deep`: do the live files still match each target's recorded
 * after-state? The expectation for a path comes from the newest event that
 * touched it, in ledger order:
 *
 *   file.switch            after_kind (a symlink), link_target, after_sha256
 *                          (the digest of the file the link resolves to)
 *   file.restore restore   after_kind and after_sha256 (restored file)
 *   file.restore none      no after-state recorded: not checked
 *   rollback.step ok       the before-state of that op's file.switch
 *   rollback.step failed   unknown: not checked
 *
 * Reads the live files (lstat, readlink, SHA-256); never changes anything. */
import { lstatSync } from "node:fs";
import { posix } from "node:path";
import { sha256FileSync } from "../hashing/hash.ts";
import { VerifyExit } from "../errors.ts";
import { resolveBytesInRoot } from "../config/paths.ts";
import { readlinkBytes } from "../sys/linkbytes.ts";
import type { Report } from "./report.ts";
import type { TouchEvent } from "./strict.ts";

export interface Expectation {
  op: string;
  seq: number;
  event: string;
  kind: string | null;
  /** Link text for a symlink (undefined: not recorded). */
  link?: string | null;
  /** Digest of the file (or of what the link resolves to); null/undefined: not recorded. */
  sha256?: string | null;
}

/** Fold operations' touch events (in ledger order) into the newest
 * expectation per path; paths whose newest state is unknown map to null. */
export function expectations(ops: readonly { op: string; touched: readonly TouchEvent[] }[]): Map<string, Expectation | null> {
  const out = new Map<string, Expectation | null>();
  for (const { op, touched } of ops) {
    const switched = new Map<string, TouchEvent>();
    for (const t of touched) {
      if (t.event === "file.switch") {
        switched.set(t.path, t);
        out.set(t.path, { op, seq: t.seq, event: t.event, kind: t.after_kind ?? "symlink", link: t.link_target ?? undefined, sha256: t.after_sha256 ?? null });
      } else if (t.event === "file.restore") {
        if (t.action === "restore") out.set(t.path, { op, seq: t.seq, event: t.event, kind: t.after_kind ?? null, sha256: t.after_sha256 ?? null });
        else out.set(t.path, null);
      } else if (t.event === "rollback.step") {
        const sw = switched.get(t.path);
        if (t.ok === true && sw) out.set(t.path, { op, seq: t.seq, event: t.event, kind: sw.before_kind ?? null, sha256: sw.before_sha256 ?? null });
        else out.set(t.path, null);
      }
    }
  }
  return out;
}

/** The bytes of a recorded path: "b64:<base64>" for non-UTF-8 paths. */
function recordedBytes(recorded: string): Buffer {
  return recorded.startsWith("b64:") ? Buffer.from(recorded.slice(4), "base64") : Buffer.from(recorded, "utf8");
}

// Paths are handled as "byte strings" (latin1: one char per byte), so the
// posix helpers, which only look at "/" and ".", work on any bytes.
const bytesOf = (p: string) => Buffer.from(p, "latin1");

/** Host path (bytes) of an in-root path given as a byte string: its
 * directories resolved inside the root as chroot(2) would (a link among
 * them must not lead the check to the host's files), the last component
 * itself left as it is (`followLast`: resolved too). */
function hostOf(root: string, p: string, followLast = false): Buffer {
  return bytesOf(resolveBytesInRoot(Buffer.from(root, "utf8").toString("latin1"), posix.normalize(p), followLast));
}

/** SHA-256 of what the link at `path` (inside the root) resolves to, every
 * hop resolved inside the root; null when it dangles, loops or is not a file. */
function resolvedDigest(root: string, path: string): string | null {
  let host: Buffer;
  try {
    host = hostOf(root, path, true);
  } catch {
    return null; // too many levels of links
  }
  const st = lstatSync(host, { throwIfNoEntry: false });
  return st?.isFile() ? sha256FileSync(host as unknown as string) : null;
}

const where = (e: Expectation, path: string) => ({ file: path, op: e.op });

/** Compare each path in `paths` (or all) to its expectation. */
export function checkLive(root: string, exp: Map<string, Expectation | null>, report: Report, paths?: Iterable<string>): void {
  for (const path of paths ?? exp.keys()) {
    const e = exp.get(path);
    if (!e) continue;
    report.count("deep_targets");
    const inRoot = recordedBytes(path).toString("latin1");
    let host: Buffer;
    let st;
    try {
      host = hostOf(root, inRoot);
      st = lstatSync(host, { throwIfNoEntry: false });
    } catch (err) {
      report.fail("deep", VerifyExit.IO, `cannot examine ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, where(e, path));
      continue;
    }
    const by = `(recorded by ${e.event}, seq ${e.seq})`;
    if (!st) {
      report.fail("deep", VerifyExit.LIVE_DRIFT, `missing; expected a ${e.kind ?? "file"} ${by}`, where(e, path));
      continue;
    }
    const kind = st.isSymbolicLink() ? "symlink" : st.isFile() ? "file" : "other";
    if (e.kind && kind !== e.kind) {
      report.fail("deep", VerifyExit.LIVE_DRIFT, `is a ${kind}; expected a ${e.kind} ${by}`, where(e, path));
      continue;
    }
    try {
      if (kind === "symlink") {
        if (typeof e.link === "string") {
          const text = readlinkBytes(host);
          if (!text.equals(recordedBytes(e.link))) {
            report.fail("deep", VerifyExit.LIVE_DRIFT, `links to ${JSON.stringify(text.toString("utf8"))}; expected ${JSON.stringify(e.link)} ${by}`, where(e, path));
            continue;
          }
        }
        if (e.sha256) {
          const d = resolvedDigest(root, inRoot);
          if (d !== e.sha256) {
            report.fail("deep", VerifyExit.LIVE_DRIFT, d === null ? `link target no longer resolves to a file; expected content ${e.sha256} ${by}` : `link target content ${d} differs from ${e.sha256} ${by}`, where(e, path));
            continue;
          }
        }
      } else if (kind === "file" && e.sha256) {
        const d = sha256FileSync(host as unknown as string); // node:fs takes a Buffer path too
        if (d !== e.sha256) {
          report.fail("deep", VerifyExit.LIVE_DRIFT, `content ${d} differs from ${e.sha256} ${by}`, where(e, path));
          continue;
        }
      }
    } catch (err) {
      report.fail("deep", VerifyExit.IO, `cannot read ${host.toString("utf8")}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, where(e, path));
      continue;
    }
    report.pass("deep");
  }
}
