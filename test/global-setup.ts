/**
 * vitest globalSetup: one throwaway PostgreSQL server for the whole run (test/helpers/pg.ts), its URL
 * exported as WHEREABOUTS_TEST_PG_URL for test/helpers/stores.ts and the pg-*.test.ts suites; stopped and
 * removed at the end. A URL already set in the environment is used as is (no server is started), and a run
 * whose selected files do not use PostgreSQL (e.g. `vitest run test/admin`) starts none.
 * When PostgreSQL cannot be started the reason goes into WHEREABOUTS_TEST_PG_MISSING: the PostgreSQL tests
 * then fail under CI=true and are skipped (with that message) elsewhere.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { PG_MISSING_ENV, PG_URL_ENV, findPgBin, inCI, startPostgres, type PgServer } from './helpers/pg.js';

/** does any test file of this run use PostgreSQL? (when in doubt: yes) */
async function runNeedsPostgres(project: TestProject | undefined): Promise<boolean> {
  try {
    const filters = (project?.vitest as unknown as { filenamePattern?: string[] } | undefined)?.filenamePattern;
    if (!project || !filters?.length) return true;
    const { testFiles } = await project.globTestFiles(filters);
    if (!testFiles.length) return true;
    return testFiles.some((f) => /storeFactories|helpers\/pg\.js|WHEREABOUTS_TEST_PG_URL/.test(fs.readFileSync(f, 'utf8')));
  } catch {
    return true;
  }
}

/** what the suite uses from outside the repository, and how to get it; printed once, up front */
function preflight(): void {
  const repo = path.resolve(import.meta.dirname, '..');
  const onPath = (cmd: string) => (process.env.PATH ?? '').split(':').some((d) => d && fs.existsSync(path.join(d, cmd)));
  const missing: string[] = [];
  const models = path.join(repo, 'models', 'files');
  if (!fs.existsSync(path.join(models, 'yolox_nano.onnx')) || !fs.existsSync(path.join(models, 'vosk-model-small-en-us-0.15')))
    missing.push('the model files (node dist/assistant/cli.js models)');
  if (!fs.existsSync(path.resolve(repo, '..', 'shared', 'images'))) missing.push('../shared beside the checkout (test photos)');
  for (const [cmd, pkg] of [['chromium', 'chromium'], ['espeak-ng', 'espeak-ng'], ['sox', 'sox'], ['arecord', 'alsa-utils']] as const)
    if (!onPath(cmd)) missing.push(`${cmd} (apt-get install ${pkg})`);
  if (!findPgBin()) missing.push('PostgreSQL (apt-get install postgresql)');
  if (missing.length)
    console.warn(`\nwhereabouts tests: missing ${missing.join('; ')}.\nOn Debian, \`bash .ci/run\` (as root) installs all of it and runs the suite.\n`);
}

export default async function setup(project?: TestProject): Promise<() => Promise<void>> {
  preflight();
  if (process.env[PG_URL_ENV]) return async () => {};
  if (!(await runNeedsPostgres(project))) return async () => {};
  let server: PgServer | null = null;
  if (!findPgBin()) {
    process.env[PG_MISSING_ENV] = 'PostgreSQL binaries not found (apt-get install postgresql, or set WHEREABOUTS_PG_BIN to the folder holding initdb/pg_ctl/postgres)';
  } else {
    try {
      server = await startPostgres();
      process.env[PG_URL_ENV] = server.url;
    } catch (e) {
      process.env[PG_MISSING_ENV] = `could not start a test PostgreSQL: ${(e as Error).message}`;
    }
  }
  if (!server) {
    const msg = process.env[PG_MISSING_ENV]!;
    console.warn(`\n[whereabouts tests] ${inCI() ? 'ERROR' : 'skipping the PostgreSQL tests'}: ${msg}\n`);
    return async () => {};
  }
  const s = server;
  // a run that is interrupted still stops its server
  const onExit = () => s.destroy();
  process.once('exit', onExit);
  return async () => {
    process.removeListener('exit', onExit);
    s.destroy();
  };
}
