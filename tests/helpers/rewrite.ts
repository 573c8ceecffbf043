/** What root on a host could do to its own evidence: edit an old
 * operation, re-seal every later event, re-sign every file with the host's
 * own key, rebuild the ledger and the checkpoint — a record that
 * `audit verify` on the host accepts. Only a checkpoint kept elsewhere (the
 * fleet's) shows it. For tests. */
import { readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { canonicalize } from "../../src/audit/jcs.ts";
import { chainHash, GENESIS } from "../../src/audit/event.ts";
import { ledgerLine, parseLedger } from "../../src/audit/ledger.ts";
import { leafHash, rootHash } from "../../src/audit/merkle.ts";
import { loadSecretKey, signerFor } from "../../src/attest/signing.ts";

export function rewriteHistory(auditDir: string, keyFile: string, origin: string, fromSeq: number, edit: (events: Record<string, unknown>[]) => void): void {
  const signer = signerFor(loadSecretKey(keyFile, {}), origin);
  const entries = parseLedger(readFileSync(join(auditDir, "ledger.jsonl"), "utf8"));
  let prev = fromSeq === 0 ? GENESIS : entries[fromSeq - 1]!.head;
  for (let i = fromSeq; i < entries.length; i++) {
    const e = entries[i]!;
    const name = `audit-${e.op}.jsonl`;
    const events = readFileSync(join(auditDir, name), "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    if (i === fromSeq) edit(events);
    let text = "";
    for (const ev of events) {
      delete ev.hash;
      ev.prev = prev;
      ev.hash = chainHash(ev);
      prev = ev.hash as string;
      text += canonicalize(ev) + "\n";
    }
    const bytes = Buffer.from(text);
    writeFileSync(join(auditDir, name), bytes);
    if (e.signature === "signed") writeFileSync(join(auditDir, `${name}.sig`), signer.signFile(bytes, e.op, name));
    e.head = prev;
    e.jsonl_sha256 = createHash("sha256").update(bytes).digest("hex");
  }
  const ledger = entries.map(ledgerLine).join("");
  writeFileSync(join(auditDir, "ledger.jsonl"), ledger);
  const leaves = ledger.trimEnd().split("\n").map((l) => leafHash(Buffer.from(l)));
  writeFileSync(join(auditDir, "checkpoint"), signer.checkpoint(leaves.length, rootHash(leaves)));
}
