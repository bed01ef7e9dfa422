/**
 * The README's first steps work when pasted: its shell blocks run as written (bash -e, in the repository,
 * `npx whereabouts ...` and `curl --fail-with-body ...`) against a real server with the real detector; only the
 * port (and the data folder, through WHEREABOUTS_DATA_DIR) differ. The photo it posts is in the repository.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from './helpers/proc.js';
import { REPO, YOLOX_FILE, tempDir } from './helpers/tmp.js';

const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
const firstSteps = readme.slice(readme.indexOf('## First steps'), readme.indexOf('### Use it from other machines'));
const blocks = [...firstSteps.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);

/** the JSON documents in curl's output (one after another, with no newline between them) */
function jsonDocs(text: string): any[] {
  const out: any[] = [];
  let depth = 0;
  let start = -1;
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inStr) {
      if (c === '\\') i++;
      else if (c === '"') inStr = false;
      continue;
    }
    if (c === '"') inStr = true;
    else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}' && --depth === 0) out.push(JSON.parse(text.slice(start, i + 1)));
  }
  return out;
}

describe('README first steps, pasted', () => {
  const dataDir = tempDir('wa-readme-');
  let srv: Awaited<ReturnType<typeof serve>>;

  beforeAll(async () => {
    const models = tempDir('wa-readme-models-');
    fs.copyFileSync(YOLOX_FILE, path.join(models, 'yolox_nano.onnx'));
    srv = await serve(['--data-dir', dataDir, '--models-dir', models, '--asr-engine', 'none', '--vision-workers', '1', '--log-level', 'warn']);
  }, 120_000);
  afterAll(async () => srv?.stop());

  function paste(script: string, input = '') {
    const r = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', script.replaceAll('127.0.0.1:8080', `127.0.0.1:${srv.port}`)], {
      cwd: REPO,
      input,
      encoding: 'utf8',
      env: { ...process.env, WHEREABOUTS_DATA_DIR: dataDir },
      timeout: 120_000,
    });
    return r;
  }

  it('has the blocks it describes, with a photo that is in the repository', () => {
    expect(blocks[0].trim()).toBe('npm install && npm start');
    expect(blocks[1]).toMatch(/npx whereabouts user add ann --admin/);
    expect(blocks[1]).toMatch(/--data-binary @docs\/kitchen\.jpg/);
    expect(firstSteps).not.toMatch(/curl -s\b/);
    for (const b of blocks.slice(1)) for (const m of b.matchAll(/@([\w./-]+\.jpg)/g)) expect(fs.existsSync(path.join(REPO, m[1])), m[1]).toBe(true);
  });

  it('a user, a device, the photo and the question: the answer names the cup and the room', () => {
    // the second block, and the form example, run together (the form upload needs $TOKEN from the first)
    const r = paste(`${blocks[1]}\n${blocks[2]}\n${blocks[3]}`, 'ann-password-1\n');
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const replies = jsonDocs(r.stdout);
    const frame = replies.find((x) => x.frame && Array.isArray(x.detections));
    expect(frame.detections.map((d: { label: string }) => d.label)).toContain('cup');
    const answer = replies.find((x) => typeof x.reply === 'string');
    expect(answer.outcome).toBe('found');
    expect(answer.reply).toMatch(/cup/i);
    expect(answer.reply).toMatch(/kitchen/);
    expect(replies.filter((x) => x.frame && x.detections).length).toBe(2); // the form upload too
    expect(replies.length).toBe(4); // and the sightings of the external detector
  });

  it('a failing request fails the paste, with the error body shown (--fail-with-body)', () => {
    const r = paste(`TOKEN=wad_not-a-real-token\n${blocks[1].split('\n').filter((l) => !/npx/.test(l)).join('\n')}`);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/"error":\{"code":"unauthorized"/);
  });
});
