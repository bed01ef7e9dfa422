/**
 * The stores the store suite runs against: SQLite always; PostgreSQL when WHEREABOUTS_TEST_PG_URL names a
 * server (test/global-setup.ts starts one on loopback). Each PostgreSQL `open()` makes a fresh database.
 * Without a server the 'postgres' entry fails every test under CI=true and is left out (with a warning)
 * elsewhere.
 */
import path from 'node:path';
import { SqliteStore } from '../../dist/store/sqlite.js';
import type { Store } from '../../dist/store/types.js';
import { tempDir } from './tmp.js';
import { createDatabase, inCI, pgMissingReason, sharedPgUrl } from './pg.js';

export interface StoreFactory {
  name: string;
  /** a fresh, empty store; `reopen` gives a second handle onto the same data after the first is closed */
  open(): Promise<{ store: Store; reopen(): Promise<Store> }>;
}

let warned = false;

export function storeFactories(): StoreFactory[] {
  const list: StoreFactory[] = [
    {
      name: 'sqlite',
      async open() {
        const file = path.join(tempDir('wa-store-'), 'test.db');
        return { store: new SqliteStore(file), reopen: async () => new SqliteStore(file) };
      },
    },
  ];
  const pgUrl = sharedPgUrl();
  if (pgUrl) {
    list.push({
      name: 'postgres',
      async open() {
        const { openPostgresStore } = await import('../../dist/store/postgres.js');
        const url = await createDatabase(pgUrl);
        return { store: await openPostgresStore(url), reopen: () => openPostgresStore(url) };
      },
    });
  } else if (inCI()) {
    list.push({
      name: 'postgres',
      async open(): Promise<never> {
        throw new Error(`PostgreSQL store tests cannot run: ${pgMissingReason()}`);
      },
    });
  } else if (!warned) {
    warned = true;
    console.warn(`[store tests] PostgreSQL left out: ${pgMissingReason()}`);
  }
  return list;
}
