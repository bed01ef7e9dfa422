/** Where models/ finds its own files in the installed package (works from the sources and from dist/). */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** the package's models/ folder: the one beside package.json that holds manifest.json */
function findModelsFolder(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'models');
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(candidate, 'manifest.json'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the whereabouts models folder (models/manifest.json)');
}

export const MODELS_FOLDER = findModelsFolder();
/** models/manifest.json of the installed package */
export const MANIFEST_FILE = path.join(MODELS_FOLDER, 'manifest.json');
