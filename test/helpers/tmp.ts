import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const SHARED = path.resolve(import.meta.dirname, '..', '..', '..', 'shared');
export const REPO = path.resolve(import.meta.dirname, '..', '..');
/** the default detector, kept in the repository (models/vendor/) */
export const VENDORED_MODELS = path.join(REPO, 'models', 'vendor');
export const YOLOX_FILE = path.join(VENDORED_MODELS, 'yolox_nano.onnx');

export function tempDir(prefix = 'wa-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
