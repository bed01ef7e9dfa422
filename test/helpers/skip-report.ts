/**
 * A vitest reporter that names every skipped test (a skip must never pass unnoticed): it prints one
 * `skipped: <file> > <test>` line each at the end of the run, and appends them to the file named by
 * WHEREABOUTS_SKIP_REPORT, which .ci/run compares with its allow-list (.ci/expected-skips).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

export default class SkipReport implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const lines: string[] = [];
    for (const m of modules) {
      const file = path.relative(process.cwd(), m.moduleId);
      for (const t of m.children.allTests()) if (t.result().state === 'skipped') lines.push(`${file} > ${t.fullName}`);
    }
    if (lines.length) process.stdout.write(`\n${lines.map((l) => `skipped: ${l}`).join('\n')}\n`);
    const out = process.env.WHEREABOUTS_SKIP_REPORT;
    if (out) fs.appendFileSync(out, lines.map((l) => l + '\n').join(''));
  }
}
