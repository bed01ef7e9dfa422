/**
 * Frames: 640x480 JPEGs posted to POST /v1/frames from several devices at once; end-to-end frames per
 * second, client latency, and the per-stage times the route reports (and /metrics records).
 *
 * Images: resized from a folder of photos when one is given (--images DIR; the repository's sibling
 * ../shared/images is used when present, for development only), otherwise generated here (shapes and
 * gradients), so the bench needs nothing outside the repository.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { stageMeansMs, type BenchServer } from './server.js';
import { mulberry32 } from './seed.js';
import { log, summarize, type Summary } from './util.js';

export async function makeImages(count: number, dir: string | null): Promise<{ images: Buffer[]; source: string }> {
  const files = dir && fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /\.(jpe?g|png|webp)$/i.test(f)).sort() : [];
  const images: Buffer[] = [];
  if (files.length) {
    for (let i = 0; i < count; i++) {
      const f = path.join(dir!, files[i % files.length]);
      const flip = Math.floor(i / files.length) % 2 === 1;
      let img = sharp(f).rotate().resize(640, 480, { fit: 'cover' });
      if (flip) img = img.flop();
      images.push(await img.jpeg({ quality: 85 }).toBuffer());
    }
    return { images, source: `${files.length} photos from ${dir}` };
  }
  const rnd = mulberry32(11);
  const c = () => Math.floor(rnd() * 255);
  for (let i = 0; i < count; i++) {
    let shapes = '';
    for (let k = 0; k < 12; k++) {
      const x = Math.floor(rnd() * 600);
      const y = Math.floor(rnd() * 440);
      if (rnd() < 0.5) shapes += `<rect x="${x}" y="${y}" width="${20 + Math.floor(rnd() * 200)}" height="${20 + Math.floor(rnd() * 160)}" rx="${Math.floor(rnd() * 20)}" fill="rgb(${c()},${c()},${c()})" opacity="0.85"/>`;
      else shapes += `<ellipse cx="${x}" cy="${y}" rx="${10 + Math.floor(rnd() * 90)}" ry="${10 + Math.floor(rnd() * 70)}" fill="rgb(${c()},${c()},${c()})" opacity="0.85"/>`;
    }
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480">
      <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="rgb(${c()},${c()},${c()})"/><stop offset="1" stop-color="rgb(${c()},${c()},${c()})"/></linearGradient></defs>
      <rect width="640" height="480" fill="url(#g)"/>${shapes}</svg>`;
    const noise = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 0, sigma: 6 } } }).png().toBuffer();
    images.push(await sharp(Buffer.from(svg)).composite([{ input: noise, blend: 'add' }]).jpeg({ quality: 85 }).toBuffer());
  }
  return { images, source: 'generated (shapes and gradients)' };
}

export interface FramesRow {
  devices: number;
  inFlightPerDevice: number;
  seconds: number;
  frames: number;
  errors: Record<string, number>;
  fps: number;
  latencyMs: Summary;
  /** per-stage means from the replies' timings */
  replyStagesMs: Record<string, number>;
  /** per-stage means from /metrics (decode and letterbox apart, when the route records them) */
  metricStagesMs: Record<string, number>;
  detectionsPerFrame: number;
  imageKiB: number;
  peakRssMiB: number;
  serverCores: number | null;
}

export async function framesBench(
  server: BenchServer,
  o: { tokens: string[]; images: Buffer[]; seconds: number; inFlightPerDevice: number; cpu: () => number | null },
): Promise<FramesRow> {
  const url = `${server.url}/v1/frames`;
  const post = async (token: string, img: Buffer) => {
    const t = performance.now();
    const r = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg' }, body: img as unknown as BodyInit });
    const body = (await r.json().catch(() => null)) as { timings?: Record<string, number>; detections?: unknown[]; error?: { code: string } } | null;
    return { status: r.status, ms: performance.now() - t, body };
  };
  const first = await post(o.tokens[0], o.images[0]);
  if (first.status !== 201) throw new Error(`frames: POST /v1/frames answered ${first.status}: ${JSON.stringify(first.body)}`);
  log(`frames: warm-up`);
  for (let i = 0; i < 4; i++) await Promise.all(o.tokens.map((t, d) => post(t, o.images[(i + d) % o.images.length])));

  const before = await server.metrics();
  server.rss.reset();
  const cpu0 = o.cpu();
  log(`frames: ${o.tokens.length} devices x ${o.inFlightPerDevice} in flight, ${o.seconds} s`);
  const until = performance.now() + o.seconds * 1000;
  const t0 = performance.now();
  const lat: number[] = [];
  const sums: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let ok = 0;
  let dets = 0;
  let next = 0;
  const loop = async (token: string) => {
    while (performance.now() < until) {
      const r = await post(token, o.images[next++ % o.images.length]);
      if (r.status === 201 && r.body?.timings) {
        ok++;
        lat.push(r.ms);
        dets += r.body.detections?.length ?? 0;
        for (const [k, v] of Object.entries(r.body.timings)) sums[k] = (sums[k] ?? 0) + v;
      } else {
        const code = r.body?.error?.code ?? `http_${r.status}`;
        errors[code] = (errors[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(o.tokens.flatMap((t) => Array.from({ length: o.inFlightPerDevice }, () => loop(t))));
  const seconds = (performance.now() - t0) / 1000;
  const cpu1 = o.cpu();
  const peakRssMiB = server.rss.reset();
  const after = await server.metrics();
  const replyStagesMs: Record<string, number> = {};
  for (const [k, v] of Object.entries(sums)) replyStagesMs[k.replace(/_ms$/, '')] = v / Math.max(1, ok);
  return {
    devices: o.tokens.length,
    inFlightPerDevice: o.inFlightPerDevice,
    seconds,
    frames: ok,
    errors,
    fps: ok / seconds,
    latencyMs: summarize(lat),
    replyStagesMs,
    metricStagesMs: stageMeansMs(before, after),
    detectionsPerFrame: dets / Math.max(1, ok),
    imageKiB: o.images.reduce((a, b) => a + b.length, 0) / o.images.length / 1024,
    peakRssMiB,
    serverCores: cpu0 !== null && cpu1 !== null ? (cpu1 - cpu0) / seconds : null,
  };
}
