/**
 * Versioned schema migrations for SQLite. Each entry runs once, in order, inside a transaction; the
 * applied version is kept in `schema_migrations`. Never edit a released migration: add a new one.
 * (store/postgres.ts keeps the same versions expressed for PostgreSQL.)
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  is_admin INTEGER NOT NULL DEFAULT 0,
  token_epoch INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);

CREATE TABLE sessions (
  id INTEGER PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  epoch INTEGER NOT NULL,
  csrf_token TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE login_failures (
  key TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX login_failures_key_at ON login_failures(key, at);

CREATE TABLE devices (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  room TEXT,
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER,
  revoked_at INTEGER
);
CREATE INDEX devices_user ON devices(user_id);

CREATE TABLE frames (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  captured_at INTEGER NOT NULL,
  snapshot_path TEXT,
  width INTEGER NOT NULL DEFAULT 0,
  height INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX frames_user_captured ON frames(user_id, captured_at);
CREATE INDEX frames_device ON frames(device_id);

CREATE TABLE sightings (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  frame_id INTEGER REFERENCES frames(id) ON DELETE SET NULL,
  label TEXT NOT NULL,
  score REAL NOT NULL,
  x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
  seen_at INTEGER NOT NULL,
  first_seen_at INTEGER NOT NULL
);
-- the product's question: latest sighting of label L for user U (index seek + first row, newest seen_at first)
CREATE INDEX sightings_user_label_seen ON sightings(user_id, label, seen_at DESC);
CREATE INDEX sightings_user_seen ON sightings(user_id, seen_at DESC);
CREATE INDEX sightings_device_seen ON sightings(device_id, seen_at DESC);
CREATE INDEX sightings_frame ON sightings(frame_id);

-- one row per (user, label): the sighting with the newest seen_at, kept current on every write,
-- so "every item with its latest sighting" costs one row per label, not a scan of all sightings
CREATE TABLE latest_sightings (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  label TEXT NOT NULL,
  sighting_id INTEGER NOT NULL REFERENCES sightings(id) ON DELETE CASCADE,
  seen_at INTEGER NOT NULL,
  count INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, label)
) WITHOUT ROWID;
CREATE INDEX latest_sightings_sighting ON latest_sightings(sighting_id);

CREATE TABLE queries (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  device_id INTEGER REFERENCES devices(id) ON DELETE SET NULL,
  source TEXT NOT NULL,
  text TEXT NOT NULL,
  reply TEXT NOT NULL,
  intent TEXT NOT NULL,
  outcome TEXT NOT NULL,
  label TEXT,
  timings TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX queries_user_created ON queries(user_id, created_at DESC);
`,
  },
  {
    version: 2,
    name: 'frame upload idempotency keys',
    sql: `
ALTER TABLE frames ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX frames_device_idempotency ON frames(device_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
`,
  },
  {
    version: 3,
    name: 'camera zones, sighting zones, per-user place labels',
    sql: `
CREATE TABLE zones (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  -- JSON [[x, y], ...], normalised to the image (0..1), so a zone survives a change of camera resolution
  points TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX zones_device_name ON zones(device_id, name COLLATE NOCASE);
CREATE INDEX zones_user ON zones(user_id);

-- the zone a sighting is in, worked out when it is written (bottom-centre of the box inside the polygon)
ALTER TABLE sightings ADD COLUMN zone_id INTEGER REFERENCES zones(id) ON DELETE SET NULL;
CREATE INDEX sightings_zone_seen ON sightings(zone_id, seen_at DESC) WHERE zone_id IS NOT NULL;
-- the newest snapshot of a camera (zones are drawn on it)
CREATE INDEX frames_device_captured ON frames(device_id, captured_at DESC);

-- labels a user counts as places/context rather than items (JSON array; NULL = the default set)
CREATE TABLE user_settings (
  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  place_labels TEXT
);
`,
  },
  {
    version: 4,
    name: 'the latest-sighting index carries the id tiebreak (no sort step for "where is my X")',
    sql: `
-- "where is my X" orders by (seen_at DESC, id DESC): with the id in the index SQLite stops at the first row
-- instead of sorting the rows that share the newest time
DROP INDEX sightings_user_label_seen;
CREATE INDEX sightings_user_label_seen ON sightings(user_id, label, seen_at DESC, id DESC);
`,
  },
  {
    version: 5,
    name: 'the question log keeps what the recogniser heard (alternatives and word confidences)',
    sql: `
-- JSON {"alternatives":[{"text","confidence"}],"words":[{"word","conf"}],"check"}; NULL for typed questions
ALTER TABLE queries ADD COLUMN heard TEXT;
`,
  },
];
