/** Lock-holder lookup (src/pkgmgr/locks.ts): the (dev, ino) key must be
 * spelled exactly as the kernel prints it in /proc/locks ("%02x:%02x:%lu" of
 * the kernel's MAJOR/MINOR), and waiter lines must not count as holders. */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lockHoldersOf, lockKey, parseProcLocks } from "../../src/pkgmgr/locks.ts";

/** glibc's makedev (sys/sysmacros.h), written out independently. */
function makedev(major: bigint, minor: bigint): bigint {
  return ((major & 0xfffn) << 8n) | ((major & ~0xfffn) << 32n) | (minor & 0xffn) | ((minor & ~0xffn) << 12n);
}

describe("lockKey", () => {
  test("ext4 on /dev/vda (254:0) and tmpfs (0:27): two hex digits at least, decimal inode", () => {
    expect(lockKey(65024n, 2146332n)).toBe("fe:00:2146332"); // stat %d = 65024 = 0xfe00
    expect(lockKey(27n, 2n)).toBe("00:1b:2");
    expect(lockKey(makedev(8n, 1n), 12n)).toBe("08:01:12");
    expect(lockKey(0n, 0n)).toBe("00:00:0");
  });

  test("large minors (above 255) and 12-bit majors round-trip through makedev", () => {
    const cases: [bigint, bigint][] = [
      [0n, 256n],
      [0n, 0x12345n], // anonymous devices (overlay, many tmpfs mounts) get big minors
      [259n, 0xfffffn], // NVMe partitions: major 259, 20-bit minor
      [0xfffn, 0xffn], // Linux majors are 12 bits, minors 20 bits
      [0xabcn, 0xfedcbn],
    ];
    for (const [maj, min] of cases) {
      const dev = makedev(maj, min);
      expect(lockKey(dev, 42n)).toBe(`${maj.toString(16).padStart(2, "0")}:${min.toString(16).padStart(2, "0")}:42`);
    }
    // an inode above 2^53 stays exact
    expect(lockKey(makedev(0n, 0x1234n), 18446744073709551557n)).toBe("00:1234:18446744073709551557");
  });
});

describe("parseProcLocks", () => {
  test("holders keyed by dev:ino; '->' waiter lines skipped; several holders of one file", () => {
    const text = [
      "1: POSIX  ADVISORY  WRITE 1234 fe:00:131090 0 EOF",
      "1: -> POSIX  ADVISORY  WRITE 1300 fe:00:131090 0 EOF",
      "2: FLOCK  ADVISORY  WRITE 17525 00:1b:2 0 EOF",
      "3: POSIX  ADVISORY  READ 555 fe:00:999 0 EOF",
      "3: -> POSIX  ADVISORY  WRITE 777 fe:00:888 0 EOF",
      "4: POSIX  ADVISORY  READ 556 fe:00:999 0 EOF",
      "5: OFDLCK ADVISORY  READ -1 00:06:1055 0 EOF",
      "10: FLOCK  ADVISORY  WRITE 4242 00:12345:77 0 EOF",
      "",
    ].join("\n");
    const m = parseProcLocks(text);
    expect(m.get("fe:00:131090")).toEqual([1234]);
    expect(m.get("00:1b:2")).toEqual([17525]);
    expect(m.get("fe:00:999")).toEqual([555, 556]);
    expect(m.has("fe:00:888")).toBe(false); // only a waiter
    expect(m.get("00:06:1055")).toEqual([-1]);
    expect(m.get("00:12345:77")).toEqual([4242]);
    expect(m.size).toBe(5);
  });

  test("empty and malformed lines", () => {
    expect(parseProcLocks("").size).toBe(0);
    expect(parseProcLocks("garbage\n1: POSIX\n").size).toBe(0);
  });
});

const canFlock = existsSync("/proc/locks") && Bun.which("flock") !== null;

describe.skipIf(!canFlock)("against the kernel (a real flock)", () => {
  const dir = mkdtempSync(join(tmpdir(), "pkgswitch-locks-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("lockKey(stat dev, ino) is the key /proc/locks shows, and lockHoldersOf names the holder", async () => {
    const file = join(dir, "lock");
    const other = join(dir, "free");
    writeFileSync(file, "");
    writeFileSync(other, "");
    const proc = Bun.spawn(["flock", "--no-fork", file, "sleep", "10"], { stdout: "ignore", stderr: "ignore" });
    try {
      const st = statSync(file, { bigint: true });
      const key = lockKey(st.dev, st.ino);
      let line: string | undefined;
      for (let i = 0; i < 200 && !line; i++) {
        line = readFileSync("/proc/locks", "utf8").split("\n").find((l) => l.includes(` ${proc.pid} `));
        if (!line) await Bun.sleep(10);
      }
      expect(line).toBeDefined();
      // the kernel's own spelling of this file's key
      expect(line!.trim().split(/\s+/)[5]).toBe(key);
      expect(parseProcLocks(readFileSync("/proc/locks", "utf8")).get(key)).toContain(proc.pid);
      expect(lockHoldersOf([other, file])).toBe(`${file} by pid ${proc.pid} (sleep 10)`); // the holder by its command line
      expect(lockHoldersOf([other, join(dir, "missing")])).toBeNull();
    } finally {
      proc.kill();
      await proc.exited;
    }
    expect(lockHoldersOf([file])).toBeNull();
  });
});
