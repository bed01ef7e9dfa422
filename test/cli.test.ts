/** The `whereabouts` command line against a real data folder, then the running server over HTTP. */
import { describe, expect, it } from 'vitest';
import { run, serve } from './helpers/proc.js';
import { tempDir } from './helpers/tmp.js';

describe('whereabouts CLI', () => {
  const dataDir = tempDir('wa-cli-');
  const D = ['--data-dir', dataDir];

  it('manages users and devices, and the token it prints works against the server', { timeout: 240_000 }, async () => {
    let r = await run(['user', 'add', 'ann', '--admin', ...D], { input: 'ann-password-1\n' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/added user ann \(admin\)/);
    r = await run(['user', 'add', 'bob', ...D], { input: 'bob-password-1\n' });
    expect(r.code).toBe(0);
    r = await run(['user', 'list', ...D]);
    expect(r.stdout).toMatch(/ann\s+\(admin\)/);
    expect(r.stdout).toMatch(/bob/);

    r = await run(['device', 'add', 'ann', 'kitchen cam', '--room', 'kitchen', ...D]);
    expect(r.code).toBe(0);
    const token = r.stdout.trim();
    expect(token).toMatch(/^wad_[A-Za-z0-9_-]{20,}$/);
    expect(r.stderr).toMatch(/shown only now/);
    r = await run(['device', 'list', 'ann', ...D]);
    expect(r.stdout).toMatch(/kitchen cam\s+\[kitchen\]/);
    expect(r.stdout).not.toContain(token);

    const srv = await serve([...D, '--no-models', '--log-level', 'warn']);
    try {
      const h = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      let res = await fetch(srv.url + '/v1/sightings', { method: 'POST', headers: h, body: JSON.stringify({ detections: [{ label: 'cell phone', score: 0.9, box: [0.7, 0.3, 0.1, 0.1] }] }) });
      expect(res.status).toBe(201);
      res = await fetch(srv.url + '/v1/query', { method: 'POST', headers: h, body: JSON.stringify({ text: 'where did I leave my phone' }) });
      const body = (await res.json()) as any;
      expect(body.outcome).toBe('found');
      expect(body.reply).toMatch(/kitchen/);

      const id = /^\s*(\d+)/.exec((await run(['device', 'list', ...D])).stdout)![1];
      expect((await run(['device', 'revoke', id, ...D])).code).toBe(0);
      res = await fetch(srv.url + '/v1/query', { method: 'POST', headers: h, body: JSON.stringify({ text: 'where is my phone' }) });
      expect(res.status).toBe(401);

      // password change from the CLI ends sessions
      const login = await fetch(srv.url + '/v1/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bob', password: 'bob-password-1' }) });
      expect(login.status).toBe(200);
      const cookie = login.headers.getSetCookie()[0].split(';')[0];
      expect((await run(['user', 'passwd', 'bob', ...D], { input: 'bob-password-2\n' })).code).toBe(0);
      expect((await fetch(srv.url + '/v1/session', { headers: { cookie } })).status).toBe(401);
    } finally {
      await srv.stop();
    }
  });

  it('prints one clear line and exits non-zero on errors', { timeout: 240_000 }, async () => {
    const cases: Array<[string[], string | undefined, RegExp]> = [
      [['user', 'add', 'ann', ...D], 'x\n', /already exists/],
      [['user', 'add', 'cat', ...D], 'short\n', /at least 8 characters/],
      [['user', 'add', 'dog', ...D], '', /no password/],
      [['user', 'remove', 'nobody', ...D], undefined, /no user named "nobody"/],
      [['device', 'add', 'nobody', 'cam', ...D], undefined, /no user named "nobody"/],
      [['device', 'revoke', 'abc', ...D], undefined, /usage: whereabouts device revoke ID/],
      [['device', 'revoke', '999', ...D], undefined, /no device with id 999/],
      [['frobnicate'], undefined, /unknown command "frobnicate"/],
      [['serve', '--port', 'eighty'], undefined, /port must be a number/],
      [['serve', '--bogus'], undefined, /unknown option --bogus/],
    ];
    for (const [args, input, re] of cases) {
      const r = await run(args, { input });
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^whereabouts: /);
      expect(r.stderr).toMatch(re);
    }
    // removing the last admin is refused
    const r = await run(['user', 'remove', 'ann', ...D]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/last admin/);
  });
});
