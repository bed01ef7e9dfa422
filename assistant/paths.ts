/** Locations inside the installed package (works from the sources and from dist/). */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'models'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the whereabouts package folder');
}

export const PACKAGE_ROOT = findRoot();
