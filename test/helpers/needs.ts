/**
 * Tests that need something from outside the repository (a browser, installed models, a fixture): they run
 * when it is there; under CI (CI=true) its absence is a failing test that names what is missing, never a
 * silent skip; elsewhere they are skipped with the reason in the test's name.
 */
import fs from 'node:fs';
import { describe, it } from 'vitest';

export const inCI = (): boolean => /^(1|true|yes)$/i.test(process.env.CI ?? '');

/** the names of the paths that do not exist ({ 'the speech model': '/x/y' } -> ['the speech model (/x/y)']) */
export function missingPaths(paths: Record<string, string>): string[] {
  return Object.entries(paths)
    .filter(([, p]) => !fs.existsSync(p))
    .map(([what, p]) => `${what} (${p})`);
}

/** `describe` when nothing is missing; otherwise a failure under CI and a named skip elsewhere */
export function describeWhenReady(name: string, missing: string[], body: () => void): void {
  if (missing.length === 0) describe(name, body);
  else if (inCI()) describe(name, () => it(`has what it needs`, () => fail(missing)));
  else describe.skip(`${name} [skipped here, missing: ${missing.join('; ')}]`, body);
}

/** `it` when nothing is missing; otherwise a failure under CI and a named skip elsewhere */
export function itWhenReady(name: string, missing: string[], body: () => Promise<void> | void, timeout?: number): void {
  if (missing.length === 0) it(name, body, timeout);
  else if (inCI()) it(name, () => fail(missing));
  else it.skip(`${name} [skipped here, missing: ${missing.join('; ')}]`, body);
}

function fail(missing: string[]): never {
  throw new Error(`missing under CI: ${missing.join('; ')} (.ci/run must provide it)`);
}
