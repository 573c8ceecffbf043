/** The operation lock's file (src/fsops/lock.ts): the holder's pid, written
 * in place at a fixed width (no truncation on the usual run, where the file
 * already has that width), whatever the file held before; the flock is the
 * lock itself. */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acquireLock } from "../../src/fsops/lock.ts";
import { Exit } from "../../src/errors.ts";

const dir = mkdtempSync(join(tmpdir(), "pkgswitch-oplock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const line = `${String(process.pid).padStart(10)}\n`;

test("a new lock file holds the pid, right-aligned in 10 columns", () => {
  const path = join(dir, "new", "pkgswitch.lock");
  acquireLock(path, 1000).release();
  expect(readFileSync(path, "utf8")).toBe(line);
});

test("whatever the file held before (longer, shorter, the same width), it then holds exactly the pid line", () => {
  for (const before of ["1234567890123456789\n", "42\n", "         1\n", ""]) {
    const path = join(dir, "pkgswitch.lock");
    writeFileSync(path, before);
    const ino = statSync(path).ino;
    acquireLock(path, 1000).release();
    expect(readFileSync(path, "utf8")).toBe(line);
    expect(statSync(path).ino).toBe(ino); // the same file, rewritten in place
  }
});

test("held by another process: exit 30 after the timeout, the file left as it was", async () => {
  const path = join(dir, "held.lock");
  writeFileSync(path, "someone else\n");
  const holder = Bun.spawn(["flock", "--no-fork", path, "sleep", "30"]);
  try {
    // Wait until the holder has the lock (flock --nonblock fails while it does).
    for (let i = 0; i < 100 && Bun.spawnSync(["flock", "--nonblock", path, "true"]).exitCode === 0; i++) await Bun.sleep(20);
    let code: number | undefined;
    try {
      acquireLock(path, 200).release();
    } catch (e) {
      code = (e as { exitCode?: number }).exitCode;
    }
    expect(code).toBe(Exit.LOCKED);
    expect(readFileSync(path, "utf8")).toBe("someone else\n");
  } finally {
    holder.kill();
    await holder.exited;
  }
});
