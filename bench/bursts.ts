/**
 * Upload bursts against a real `whereabouts serve` (models loaded): the server's resident memory (RSS) while
 * many large uploads arrive at once and after they end. Issue 16's targets:
 *
 *   - 120 parallel unauthenticated 16 MB uploads: all refused with 401 before their body is read; peak RSS
 *     under idle + 150 MB; back under idle + 50 MB within 30 s;
 *   - 32 parallel authenticated 16 MB uploads (a real 16 MB JPEG): each 201 or 503 `busy`; peak RSS <= 700 MB;
 *     back under idle + 50 MB within 30 s.
 *
 * Clients send `Expect: 100-continue` (as curl does for large bodies) and the body only after "100 Continue";
 * `--no-expect` pushes the bodies right after the headers instead (the refused ones are then cut off by the
 * server). Peak RSS is the kernel's high-water mark (VmHWM, reset through /proc/PID/clear_refs before each
 * burst), so no sampling gap hides a peak.
 *
 *   node dist/bench/bursts.js [--unauth 120] [--auth 32] [--mb 16] [--no-expect] [--models-dir DIR]
 *                             [--database postgres://...] [--server-arg ARG]... [--json FILE]
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import crypto from 'node:crypto';
import sharp from 'sharp';
import { SqliteStore } from '../store/sqlite.js';
import { SQLITE_FILE } from '../store/index.js';
import { addDevice, addUser } from '../assistant/accounts.js';
import { startServer, type BenchServer } from './server.js';
import { REPO, log, procMemory, sleep } from './util.js';

export interface BurstResult {
  what: string;
  requests: number;
  statuses: Record<string, number>;
  /** body bytes the clients handed to their sockets, MiB */
  sentMiB: number;
  idleMiB: number;
  peakMiB: number;
  /** seconds from the end of the burst until RSS was back under idle + 50 MB (null: not within the wait) */
  backInSeconds: number | null;
  endMiB: number;
  seconds: number;
}

/** a JPEG of about `bytes` (random pixels at full quality, so it really is that large), padded to exactly `bytes` */
export async function bigJpeg(bytes: number): Promise<Buffer> {
  const probeW = 1000;
  const probeH = 750;
  const probe = await sharp(crypto.randomBytes(probeW * probeH * 3), { raw: { width: probeW, height: probeH, channels: 3 } })
    .jpeg({ quality: 100 })
    .toBuffer();
  const perPixel = probe.length / (probeW * probeH);
  const pixels = (bytes * 0.97) / perPixel;
  const w = Math.round(Math.sqrt((pixels * 4) / 3));
  const h = Math.round((w * 3) / 4);
  const jpeg = await sharp(crypto.randomBytes(w * h * 3), { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 100 })
    .toBuffer();
  if (jpeg.length >= bytes) return jpeg;
  // comment segments right after SOI bring it to the exact size (decoders skip them)
  const parts: Buffer[] = [jpeg.subarray(0, 2)];
  let pad = bytes - jpeg.length;
  while (pad >= 4) {
    let seg = Math.min(65537, pad);
    if (pad - seg > 0 && pad - seg < 4) seg = pad - 4;
    const b = Buffer.alloc(seg, 0x20);
    b[0] = 0xff;
    b[1] = 0xfe;
    b.writeUInt16BE(seg - 2, 2);
    parts.push(b);
    pad -= seg;
  }
  parts.push(jpeg.subarray(2), Buffer.alloc(pad));
  return Buffer.concat(parts);
}

/** resets the process's RSS high-water mark (Linux: /proc/PID/clear_refs, value 5) */
function resetPeak(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

interface UploadOutcome {
  status: string;
  sent: number;
}

function upload(url: string, body: Buffer, headers: Record<string, string>, expect: boolean): Promise<UploadOutcome> {
  return new Promise((resolve) => {
    const u = new URL(url);
    let sent = 0;
    let settled = false;
    const done = (status: string) => {
      if (settled) return;
      settled = true;
      resolve({ status, sent });
    };
    const req = http.request({
      host: u.hostname,
      port: u.port,
      path: u.pathname,
      method: 'POST',
      agent: false,
      headers: { ...headers, 'content-type': 'image/jpeg', 'content-length': String(body.length), ...(expect ? { expect: '100-continue' } : {}) },
    });
    const write = () => {
      const step = 256 * 1024;
      const pump = () => {
        while (sent < body.length && !req.destroyed) {
          const piece = body.subarray(sent, sent + step);
          sent += piece.length;
          if (!req.write(piece)) return void req.once('drain', pump);
        }
        if (sent >= body.length) req.end();
      };
      pump();
    };
    req.on('continue', write);
    req.on('response', (res) => {
      done(String(res.statusCode));
      res.resume();
      // an early answer (refused before or while the body went out): stop sending, as curl does
      if (sent < body.length) req.destroy();
    });
    req.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? 'error'));
    req.setTimeout(120_000, () => req.destroy());
    if (!expect) write();
    else req.flushHeaders();
  });
}

async function settle(s: BenchServer, idle: number, waitS: number, t0: number): Promise<{ back: number | null; end: number }> {
  let back: number | null = null;
  let last = NaN;
  while ((Date.now() - t0) / 1000 < waitS) {
    last = procMemory(s.pid)?.rssMiB ?? NaN;
    if (back === null && last <= idle + 50) {
      back = (Date.now() - t0) / 1000;
      break;
    }
    await sleep(200);
  }
  return { back, end: last };
}

export async function burst(
  s: BenchServer,
  what: string,
  n: number,
  body: Buffer,
  headers: Record<string, string>,
  expect: boolean,
  waitS = 30,
): Promise<BurstResult> {
  const idle = procMemory(s.pid)!.rssMiB;
  resetPeak(s.pid);
  const t0 = Date.now();
  const outcomes = await Promise.all(Array.from({ length: n }, () => upload(s.url + '/v1/frames', body, headers, expect)));
  const seconds = (Date.now() - t0) / 1000;
  const peak = procMemory(s.pid)!.hwmMiB;
  const { back, end } = await settle(s, idle, waitS, Date.now());
  const statuses: Record<string, number> = {};
  for (const o of outcomes) statuses[o.status] = (statuses[o.status] ?? 0) + 1;
  return {
    what,
    requests: n,
    statuses,
    sentMiB: Math.round((outcomes.reduce((a, o) => a + o.sent, 0) / 1048576) * 10) / 10,
    idleMiB: Math.round(idle),
    peakMiB: Math.round(peak),
    backInSeconds: back === null ? null : Math.round(back * 10) / 10,
    endMiB: Math.round(end),
    seconds: Math.round(seconds * 10) / 10,
  };
}

/** a data folder with one user and one camera; returns the camera's token */
export async function prepareData(dataDir: string): Promise<string> {
  fs.mkdirSync(dataDir, { recursive: true });
  const store = new SqliteStore(path.join(dataDir, SQLITE_FILE));
  try {
    const u = await addUser(store, 'bench', 'bench-password-1', true);
    return (await addDevice(store, u.id, 'bench cam', 'kitchen')).token;
  } finally {
    await store.close();
  }
}

export function formatBursts(rows: BurstResult[]): string {
  const head = '| burst | requests | statuses | body MiB sent | idle RSS MiB | peak RSS MiB | back under idle+50 after | RSS at end MiB |';
  const sep = '| --- | --- | --- | --- | --- | --- | --- | --- |';
  const lines = rows.map(
    (r) =>
      `| ${r.what} | ${r.requests} | ${Object.entries(r.statuses)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ')} | ${r.sentMiB} | ${r.idleMiB} | ${r.peakMiB} (+${r.peakMiB - r.idleMiB}) | ${r.backInSeconds === null ? 'not within the wait' : `${r.backInSeconds} s`} | ${r.endMiB} |`,
  );
  return [head, sep, ...lines].join('\n');
}

async function main() {
  const argv = process.argv.slice(2);
  const opt = (name: string, def: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : def;
  };
  const unauth = Number(opt('unauth', '120'));
  const auth = Number(opt('auth', '32'));
  const mb = Number(opt('mb', '16'));
  const expect = !argv.includes('--no-expect');
  const serverArgs: string[] = [];
  argv.forEach((a, i) => {
    if (a === '--server-arg') serverArgs.push(argv[i + 1]);
  });
  const modelsDir = opt('models-dir', process.env.WHEREABOUTS_MODELS_DIR || path.join(REPO, 'models', 'files'));
  const database = opt('database', '');
  const dataDir = fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR || '/tmp'), 'wa-bursts-'));
  const token = database ? '' : await prepareData(dataDir);
  if (database) throw new Error('--database: not supported by this section yet (the data folder seeds SQLite)');
  log(`making a ${mb} MB JPEG`);
  const image = await bigJpeg(mb * 1024 * 1024);
  const s = await startServer({ dataDir, modelsDir, extraArgs: serverArgs });
  try {
    // warm up: one real frame, so the detector's first-use allocations are part of "idle"
    const small = await sharp(crypto.randomBytes(640 * 480 * 3), { raw: { width: 640, height: 480, channels: 3 } }).jpeg().toBuffer();
    await upload(s.url + '/v1/frames', small, { authorization: `Bearer ${token}` }, true);
    await sleep(3000);
    const rows: BurstResult[] = [];
    log(`${unauth} unauthenticated ${mb} MB uploads`);
    rows.push(await burst(s, `${unauth} x ${mb} MB, no token`, unauth, image, {}, expect));
    await sleep(2000);
    log(`${auth} authenticated ${mb} MB uploads`);
    rows.push(await burst(s, `${auth} x ${mb} MB, device token`, auth, image, { authorization: `Bearer ${token}` }, expect));
    const table = formatBursts(rows);
    console.log(`\nserver: ${s.url}, models: ${JSON.stringify(s.health)}; clients ${expect ? 'send Expect: 100-continue' : 'push bodies without Expect'}\n`);
    console.log(table);
    const jsonOut = opt('json', '');
    if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify({ at: new Date().toISOString(), expect, rows }, null, 2));
  } finally {
    await s.stop();
    if (!argv.includes('--keep')) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
