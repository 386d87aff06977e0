// Builds the dashboard's scripts into ../sayso/dashboard/static/build (served by
// the Python package at /static/build/…; nothing built is committed).
//   node build.mjs    dashboard.js (every page), player.js + player.css, with a size report
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const OUT = join(here, '..', 'sayso', 'dashboard', 'static', 'build');
// player.js (+ player.css, from the stylesheets it imports) is the replay
// player with rrweb's Replayer: loaded only on the player page.
const ENTRIES = { dashboard: 'src/dashboard.ts', player: 'src/player.ts' };

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
for (const file of readdirSync(OUT).sort()) {
  const code = readFileSync(join(OUT, file));
  console.log(`${file}  ${code.length} B raw  ${gzipSync(code).length} B gzip`);
}
