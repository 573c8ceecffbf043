/** `fleet init`: create or migrate the schema, idempotently. */
import type { Sql } from "./db.ts";
import { BOOTSTRAP, MIGRATIONS } from "./schema.ts";

export interface InitResult {
  /** Version before and after. */
  from: number;
  to: number;
  applied: { version: number; name: string }[];
}

/** An arbitrary constant naming pkgswitch's migration lock. */
const MIGRATION_LOCK = 0x706b6773; // "pkgs"

export async function migrate(sql: Sql): Promise<InitResult> {
  return (await sql.begin(async (tx) => {
    // Two admins running init at once: the second waits, then finds nothing to do.
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx.unsafe(BOOTSTRAP);
    const rows = await tx<{ v: number | null }[]>`SELECT max(version)::int AS v FROM pkgswitch.schema_migrations`;
    const from = rows[0]?.v ?? 0;
    const applied: InitResult["applied"] = [];
    for (const m of MIGRATIONS) {
      if (m.version <= from) continue;
      await tx.unsafe(m.sql);
      await tx`INSERT INTO pkgswitch.schema_migrations (version, name) VALUES (${m.version}, ${m.name})`;
      applied.push({ version: m.version, name: m.name });
    }
    return { from, to: applied.length ? applied[applied.length - 1]!.version : from, applied };
  })) as InitResult;
}
