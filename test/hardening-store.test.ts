/**
 * Store-level hardening (issue 16), on SQLite and PostgreSQL: paging with a (seen_at, id) cursor reaches
 * every sighting even when several share a time, and account changes that end credentials are signalled
 * (onAccountsChanged), on PostgreSQL also to a second instance through NOTIFY.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { storeFactories } from './helpers/stores.js';
import type { Store } from '../dist/store/types.js';

describe.each(storeFactories())('store hardening: $name', (factory) => {
  const open: Store[] = [];
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  it('pages through sightings of one time with a (seen_at, id) cursor, skipping none', async () => {
    const { store } = await factory.open();
    open.push(store);
    const u = await store.createUser({ name: 'ann', passwordHash: 'x', isAdmin: false });
    const d = await store.createDevice({ userId: u.id, name: 'cam', room: null, tokenHash: 'h1' });
    const at = 1_700_000_000_000;
    // five detections of one frame, then an older one
    await store.recordFrame(
      { userId: u.id, deviceId: d.id, capturedAt: at, snapshotPath: null, width: 0, height: 0, bytes: 0 },
      ['cup', 'book', 'laptop', 'bottle', 'chair'].map((label, i) => ({ label, score: 0.9, box: { x: 0.1 * i, y: 0, w: 0.1, h: 0.1 }, userId: u.id, deviceId: d.id, seenAt: at })),
      [],
    );
    await store.recordFrame(
      { userId: u.id, deviceId: d.id, capturedAt: at - 5, snapshotPath: null, width: 0, height: 0, bytes: 0 },
      [{ label: 'cup', score: 0.8, box: { x: 0, y: 0, w: 0.1, h: 0.1 }, userId: u.id, deviceId: d.id, seenAt: at - 5 }],
      [],
    );
    const seen: number[] = [];
    let cursor: { before: number; beforeId: number } | undefined;
    for (let page = 0; page < 10; page++) {
      const rows = await store.listSightings({ userId: u.id, limit: 2, ...cursor });
      if (!rows.length) break;
      seen.push(...rows.map((r) => r.id));
      const last = rows[rows.length - 1];
      cursor = { before: last.seenAt, beforeId: last.id };
    }
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
    // newest first, ties by id descending
    const all = await store.listSightings({ userId: u.id, limit: 10 });
    expect(seen).toEqual(all.map((r) => r.id));
    // `before` alone still means "strictly older"
    expect((await store.listSightings({ userId: u.id, limit: 10, before: at })).map((r) => r.seenAt)).toEqual([at - 5]);
  });

  it('signals changes that end credentials: revoke, remove, logout, password, epoch', async () => {
    const { store, reopen } = await factory.open();
    open.push(store);
    let here = 0;
    const off = store.onAccountsChanged!(() => here++);
    // a second instance (PostgreSQL: another pool on the same database) hears it too
    const other = store.kind === 'postgres' ? await reopen() : null;
    if (other) open.push(other);
    let there = 0;
    other?.onAccountsChanged!(() => there++);
    await new Promise((r) => setTimeout(r, 300)); // the LISTEN connection is up
    there = 0;
    const u = await store.createUser({ name: 'bob', passwordHash: 'x', isAdmin: false });
    const d = await store.createDevice({ userId: u.id, name: 'cam', room: null, tokenHash: 'h2' });
    const before = here;
    await store.revokeDevice(d.id, Date.now());
    await store.deleteSession('nope');
    await store.bumpTokenEpoch(u.id);
    await store.setPassword(u.id, 'y');
    await store.deleteUser(u.id);
    expect(here - before).toBe(5);
    if (other) {
      const deadline = Date.now() + 3000;
      while (there < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(there).toBe(5);
    }
    off();
    await store.revokeDevice(d.id, Date.now());
    expect(here - before).toBe(5);
  });
});
