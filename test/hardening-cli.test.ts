/**
 * The CLI never prints a stored name's control characters raw (a name stored before they were refused, or
 * written by another tool, could otherwise move the cursor, clear the screen or retitle the terminal).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from './helpers/proc.js';
import { tempDir } from './helpers/tmp.js';
import { SqliteStore } from '../dist/store/sqlite.js';

describe('whereabouts device list / user list', () => {
  it('shows control characters in names as visible escapes', async () => {
    const dir = tempDir('wa-cli-names-');
    const store = new SqliteStore(path.join(dir, 'whereabouts.db'));
    try {
      const u = await store.createUser({ name: 'ann', passwordHash: 'x', isAdmin: false });
      // straight into the store, past the validation the API and CLI now do
      await store.createDevice({ userId: u.id, name: 'cam\u001b[2J\u001b]0;pwned\u0007', room: 'hall\r\u0000', tokenHash: 'h' });
    } finally {
      await store.close();
    }
    const r = await run(['device', 'list', '--data-dir', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(r.stdout).toContain('cam\\u{1b}[2J\\u{1b}]0;pwned\\u{7}');
    expect(r.stdout).toContain('hall\\u{d}\\u{0}');
    // and names with them are refused when added
    const bad = await run(['device', 'add', 'ann', 'evil\u001bcam', '--data-dir', dir]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/control characters/);
  });
});
