/** The SBOM an operation's `op.end` event points to: its SHA-256 must be the
 * one the (signed) event records, and it must validate against the official
 * SPDX 2.3 JSON schema. Returns the parsed document. */
import { expect } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { VECTORS } from "./paths.ts";

export function checkedSbom(auditDir: string, end: Record<string, any>): any {
  const text = readFileSync(join(auditDir, end.sbom.file));
  expect(createHash("sha256").update(text).digest("hex")).toBe(end.sbom.sha256);
  const sbom = JSON.parse(text.toString());
  const ajv = new Ajv({ allErrors: true });
  addFormats(ajv);
  const valid = ajv.validate(JSON.parse(readFileSync(join(VECTORS, "spdx-2.3/spdx-schema.json"), "utf8")), sbom);
  expect(ajv.errors ?? []).toEqual([]);
  expect(valid).toBe(true);
  return sbom;
}
