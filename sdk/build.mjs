// Builds the widget into ../sayso/ingest/static (served by the Python package).
//   node build.mjs          widget.js, sayso.mjs, capture.js, replay.js, rrweb-record.js + size report;
//                           fails over a budget
//   node build.mjs --tests  bundles test/*.test.ts into .test-build/ for `node --test`
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const OUT = join(here, '..', 'sayso', 'ingest', 'static');
export const BUDGET = 10240; // widget.js, gzipped bytes
// gzipped bytes of the lazy files that have a budget
export const BUDGETS = { 'widget.js': BUDGET, 'replay.js': 3584, 'rrweb-record.js': 24576 };
const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));

// Imported .css files become minified strings (the widget adopts them as a constructable stylesheet).
const cssText = {
  name: 'css-text',
  setup(b) {
    b.onLoad({ filter: /\.css$/ }, async (args) => {
      const { code } = await esbuild.transform(readFileSync(args.path, 'utf8'), { loader: 'css', minify: true, target: 'chrome100' });
      return { contents: code.trim(), loader: 'text' };
    });
  },
};

// replay.js imports rrweb-record.js at run time, from beside itself (only when a session is sampled in).
const rrwebApart = {
  name: 'rrweb-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\/rrweb-record$/ }, () => ({ path: './rrweb-record.js', external: true }));
  },
};

const common = {
  plugins: [cssText],
  bundle: true,
  minify: true,
  target: 'es2020',
  platform: 'browser',
  charset: 'utf8',
  logLevel: 'warning',
  define: { __VERSION__: JSON.stringify(pkg.version) },
  absWorkingDir: here,
};

async function buildAll() {
  mkdirSync(OUT, { recursive: true });
  await Promise.all([
    esbuild.build({ ...common, entryPoints: ['src/entry-iife.ts'], outfile: join(OUT, 'widget.js'), format: 'iife', legalComments: 'none' }),
    esbuild.build({ ...common, entryPoints: ['src/entry-esm.ts'], outfile: join(OUT, 'sayso.mjs'), format: 'esm', legalComments: 'none' }),
    // third-party code: keep its licence comments
    esbuild.build({ ...common, entryPoints: ['src/capture.ts'], outfile: join(OUT, 'capture.js'), format: 'esm', legalComments: 'eof' }),
    esbuild.build({ ...common, plugins: [rrwebApart], entryPoints: ['src/replay/browser.ts'], outfile: join(OUT, 'replay.js'), format: 'esm', legalComments: 'none' }),
    esbuild.build({ ...common, entryPoints: ['src/rrweb-record.ts'], outfile: join(OUT, 'rrweb-record.js'), format: 'esm', legalComments: 'eof' }),
  ]);
  const over = [];
  for (const name of ['widget.js', 'sayso.mjs', 'capture.js', 'replay.js', 'rrweb-record.js']) {
    const buf = readFileSync(join(OUT, name));
    const gz = gzipSync(buf).length;
    const budget = BUDGETS[name];
    if (gz > budget) over.push(`${name} is over its ${budget} B gzip budget`);
    console.log(`${name.padEnd(15)} ${String(buf.length).padStart(7)} B raw ${String(gz).padStart(7)} B gzip${budget ? ` (budget ${budget})` : ''}${gz > budget ? '  OVER BUDGET' : ''}`);
  }
  if (over.length) {
    console.error(over.join('\n'));
    process.exit(1);
  }
}

async function buildTests() {
  const out = join(here, '.test-build');
  rmSync(out, { recursive: true, force: true });
  const tests = readdirSync(join(here, 'test')).filter((f) => f.endsWith('.test.ts'));
  await esbuild.build({
    ...common,
    minify: false,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    entryPoints: tests.map((f) => join('test', f)),
    outdir: out,
    outExtension: { '.js': '.mjs' },
    external: ['node:*'],
    sourcemap: 'inline',
  });
  console.log(`bundled ${tests.length} test files into .test-build/`);
}

if (process.argv.includes('--tests')) await buildTests();
else await buildAll();

