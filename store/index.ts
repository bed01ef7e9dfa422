/** Chooses the store from the configuration: embedded SQLite by default, PostgreSQL for postgres:// URLs. */
import path from 'node:path';
import type { Store } from './types.js';
import { SqliteStore } from './sqlite.js';

export interface StoreOptions {
  dataDir: string;
  /** empty for SQLite in dataDir; postgres://... for PostgreSQL */
  database: string;
}

export const SQLITE_FILE = 'whereabouts.db';

export async function openStore(opts: StoreOptions): Promise<Store> {
  const url = opts.database.trim();
  if (/^postgres(ql)?:\/\//i.test(url)) {
    // loaded on demand so SQLite-only installs never touch the pg driver
    const mod = (await import('./postgres.js' as string)) as { openPostgresStore(url: string): Promise<Store> };
    return mod.openPostgresStore(url);
  }
  if (url && !/^sqlite:/i.test(url)) throw new Error(`unsupported database "${url}": use postgres://... or leave it empty for SQLite`);
  const file = url.replace(/^sqlite:(\/\/)?/i, '') || path.join(opts.dataDir, SQLITE_FILE);
  return new SqliteStore(file);
}

export type { Store } from './types.js';
