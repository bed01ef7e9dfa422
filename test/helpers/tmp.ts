import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const SHARED = path.resolve(import.meta.dirname, '..', '..', '..', 'shared');
export const REPO = path.resolve(import.meta.dirname, '..', '..');

export function tempDir(prefix = 'wa-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
