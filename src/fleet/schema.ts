/** The fleet ledger's schema in PostgreSQL, as versioned migrations.
 *
 * Everything lives in the schema `pkgswitch`. `schema_migrations` records
 * which versions were applied; `fleet init` applies the missing ones in one
 * transaction under an advisory lock, so running it twice (or on two admin
 * machines at once) changes nothing the second time.
 *
 * Append-only is enforced by the database, not by pkgswitch: the role hosts
 * log in with (a member of `pkgswitch_host`) holds only SELECT and INSERT on
 * the evidence tables, and a trigger on each of them rejects UPDATE, DELETE
 * and TRUNCATE for everyone, the owner included (an owner who really means
 * to prune must drop the trigger first, a visible act). So a compromised host
 * can add evidence but never change what the fleet already holds.
 *
 * A new migration is appended to MIGRATIONS, never edited in place once
 * released: a database at version N runs N+1… only. */

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Group roles `fleet init` creates (NOLOGIN): log-in roles are made members. */
export const HOST_ROLE = "pkgswitch_host";
export const READER_ROLE = "pkgswitch_reader";

export const EVIDENCE_TABLES = ["hosts", "host_keys", "operations", "checkpoints", "alarms", "alarm_acks"] as const;

const V1 = `
CREATE TABLE pkgswitch.hosts (
  host_id     text PRIMARY KEY CHECK (host_id ~ '^[0-9a-f]{32}$'),
  first_push  timestamptz NOT NULL DEFAULT now()
);

-- Keys a host signs with. The first key is taken on first use (the key that
-- signed the host's first signed operation, sent with its first push); a
-- later key is trusted from the operation that announced it (a key.rotate
-- event signed by the previous key), never earlier.
CREATE TABLE pkgswitch.host_keys (
  host_id      text NOT NULL REFERENCES pkgswitch.hosts,
  key_id       text NOT NULL CHECK (key_id ~ '^[0-9A-F]{16}$'),
  public_key   text NOT NULL,
  from_seq     bigint NOT NULL CHECK (from_seq >= 0),
  announced_by text,
  received_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (host_id, key_id)
);

-- One row per ledger line: the line itself (the Merkle leaf) and the
-- operation's artifacts, byte for byte. command/status/exit_code/op_ts are a
-- summary for fleet status, taken from op.start/op.end; fleet verify checks
-- them against the JSONL.
CREATE TABLE pkgswitch.operations (
  host_id      text NOT NULL REFERENCES pkgswitch.hosts,
  seq          bigint NOT NULL CHECK (seq >= 0),
  op           text NOT NULL,
  ledger_line  text NOT NULL,
  jsonl        bytea NOT NULL,
  sig          bytea,
  sbom         bytea,
  command      text,
  status       text,
  exit_code    integer,
  op_ts        timestamptz,
  received_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (host_id, seq),
  UNIQUE (host_id, op)
);

-- Every checkpoint a host ever pushed, with the RFC 9162 consistency proof
-- from the previous one it held (checked by pkgswitch before the insert).
CREATE TABLE pkgswitch.checkpoints (
  host_id      text NOT NULL REFERENCES pkgswitch.hosts,
  size         bigint NOT NULL CHECK (size >= 0),
  root         bytea NOT NULL CHECK (length(root) = 32),
  note         text NOT NULL,
  note_sha256  bytea NOT NULL,
  proof_from   bigint,
  -- The proof's hashes, 32 bytes each, concatenated in order.
  proof        bytea CHECK (length(proof) % 32 = 0),
  received_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (host_id, note_sha256)
);
CREATE INDEX checkpoints_host_size ON pkgswitch.checkpoints (host_id, size);

-- A push that was refused: the host's history is not an extension of what
-- the fleet holds (rewritten, truncated or forked).
CREATE TABLE pkgswitch.alarms (
  id              bigserial PRIMARY KEY,
  host_id         text NOT NULL,
  kind            text NOT NULL,
  first_bad_seq   bigint,
  held_size       bigint,
  held_root       bytea,
  pushed_size     bigint,
  pushed_root     bytea,
  pushed_note     text,
  proof           bytea CHECK (length(proof) % 32 = 0),
  message         text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alarms_host ON pkgswitch.alarms (host_id);

-- An operator's acknowledgement (reader/admin only; append-only as well).
CREATE TABLE pkgswitch.alarm_acks (
  alarm_id    bigint PRIMARY KEY REFERENCES pkgswitch.alarms,
  acked_by    text NOT NULL DEFAULT session_user,
  note        text NOT NULL,
  acked_at    timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION pkgswitch.append_only() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  RAISE EXCEPTION 'pkgswitch fleet ledger: % on %.% is refused: evidence is append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$f$;

-- The server's own check of a checkpoint: its root must be the RFC 9162
-- Merkle root of the ledger lines this database already holds for the host
-- (which no one can change). A checkpoint that does not match is not
-- stored: it is recorded as an alarm instead, whatever client sent it.
CREATE FUNCTION pkgswitch.merkle_root_of(leaves bytea[]) RETURNS bytea LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE
  level bytea[] := leaves;
  next bytea[];
  i int;
BEGIN
  IF level IS NULL OR cardinality(level) = 0 THEN RETURN sha256(''::bytea); END IF;
  -- Pairing left to right and carrying an odd last node up unchanged builds
  -- the same tree as RFC 9162's split at the largest power of two.
  WHILE cardinality(level) > 1 LOOP
    next := '{}';
    i := 1;
    WHILE i <= cardinality(level) LOOP
      IF i = cardinality(level) THEN next := next || level[i];
      ELSE next := next || sha256('\\x01'::bytea || level[i] || level[i + 1]);
      END IF;
      i := i + 2;
    END LOOP;
    level := next;
  END LOOP;
  RETURN level[1];
END
$f$;

-- The root over the host's first n held ledger lines; NULL if the fleet does not hold them all.
CREATE FUNCTION pkgswitch.merkle_root(h text, n bigint) RETURNS bytea LANGUAGE plpgsql STABLE AS $f$
DECLARE
  leaves bytea[];
BEGIN
  SELECT array_agg(sha256('\\x00'::bytea || convert_to(ledger_line, 'UTF8')) ORDER BY seq) INTO leaves
    FROM pkgswitch.operations WHERE host_id = h AND seq < n;
  IF coalesce(cardinality(leaves), 0) <> n THEN RETURN NULL; END IF;
  RETURN pkgswitch.merkle_root_of(leaves);
END
$f$;

CREATE FUNCTION pkgswitch.checkpoint_guard() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pkgswitch, pg_temp AS $f$
DECLARE
  expected bytea;
BEGIN
  expected := pkgswitch.merkle_root(NEW.host_id, NEW.size);
  IF expected IS NULL OR expected <> NEW.root THEN
    INSERT INTO pkgswitch.alarms (host_id, kind, pushed_size, pushed_root, pushed_note, message)
    VALUES (NEW.host_id, 'checkpoint-mismatch', NEW.size, NEW.root, NEW.note,
      CASE WHEN expected IS NULL
        THEN format('checkpoint of size %s pushed, but the fleet does not hold ledger lines 0..%s of this host', NEW.size, NEW.size - 1)
        ELSE format('checkpoint of size %s does not sign the Merkle root of the ledger lines the fleet holds for this host', NEW.size) END);
    RETURN NULL;
  END IF;
  RETURN NEW;
END
$f$;
CREATE TRIGGER checkpoint_guard BEFORE INSERT ON pkgswitch.checkpoints FOR EACH ROW EXECUTE FUNCTION pkgswitch.checkpoint_guard();
`;

function appendOnlyTriggers(): string {
  return EVIDENCE_TABLES.map(
    // Statement-level: refused even when no row matches.
    (t) => `CREATE TRIGGER ${t}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON pkgswitch.${t} FOR EACH STATEMENT EXECUTE FUNCTION pkgswitch.append_only();`,
  ).join("\n");
}

function grants(): string {
  const hostTables = ["hosts", "host_keys", "operations", "checkpoints", "alarms"];
  return `
REVOKE ALL ON ALL TABLES IN SCHEMA pkgswitch FROM PUBLIC;
GRANT USAGE ON SCHEMA pkgswitch TO ${HOST_ROLE}, ${READER_ROLE};
GRANT SELECT, INSERT ON ${hostTables.map((t) => `pkgswitch.${t}`).join(", ")} TO ${HOST_ROLE};
GRANT USAGE ON SEQUENCE pkgswitch.alarms_id_seq TO ${HOST_ROLE};
GRANT SELECT ON ALL TABLES IN SCHEMA pkgswitch TO ${READER_ROLE};
GRANT INSERT ON pkgswitch.alarm_acks TO ${READER_ROLE};
REVOKE UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA pkgswitch FROM ${HOST_ROLE}, ${READER_ROLE};`;
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "evidence tables, append-only triggers, checkpoint guard, grants", sql: V1 + appendOnlyTriggers() + grants() },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Run before the migrations, outside the versioning: the schema, the
 * migrations table and the group roles (created only when missing). */
export const BOOTSTRAP = `
CREATE SCHEMA IF NOT EXISTS pkgswitch;
CREATE TABLE IF NOT EXISTS pkgswitch.schema_migrations (
  version     integer PRIMARY KEY,
  name        text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
);
DO $r$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${HOST_ROLE}') THEN CREATE ROLE ${HOST_ROLE} NOLOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${READER_ROLE}') THEN CREATE ROLE ${READER_ROLE} NOLOGIN; END IF;
END $r$;
GRANT USAGE ON SCHEMA pkgswitch TO ${HOST_ROLE}, ${READER_ROLE};
GRANT SELECT ON pkgswitch.schema_migrations TO ${HOST_ROLE}, ${READER_ROLE};
`;
