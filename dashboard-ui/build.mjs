// Builds the dashboard's scripts into ../sayso/dashboard/static/build (served by
// the Python package at /static/build/…; nothing built is committed).
//   node build.mjs    dashboard.js (every page), with a size report
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const OUT = join(here, '..', 'sayso', 'dashboard', 'static', 'build');
const ENTRIES = { dashboard: 'src/dashboard.ts' };

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
await esbuild.build({
  entryPoints: ENTRIES,
  outdir: OUT,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome100', 'firefox100', 'safari15'],
  legalComments: 'none',
  logLevel: 'warning',
});
for (const name of Object.keys(ENTRIES)) {
  const code = readFileSync(join(OUT, `${name}.js`));
  console.log(`${name}.js  ${code.length} B raw  ${gzipSync(code).length} B gzip`);
}
