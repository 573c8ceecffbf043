import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { canonicalize } from "../../src/audit/jcs.ts";
import { VECTORS } from "../helpers/paths.ts";

const dir = join(VECTORS, "jcs");

describe("RFC 8785 JCS vectors", () => {
  const names = readdirSync(join(dir, "input")).filter((n) => n.endsWith(".json"));
  test("vector set is present", () => expect(names.length).toBeGreaterThanOrEqual(6));
  for (const name of names) {
    test(name, () => {
      const input = JSON.parse(readFileSync(join(dir, "input", name), "utf8"));
      const want = readFileSync(join(dir, "output", name), "utf8");
      expect(canonicalize(input)).toBe(want);
    });
  }
});
