// `npm run images:build`: builds whatever image is missing (base images, Dockerfile targets) and
// prints the archives as JSON on stdout; progress goes to stderr. A failed step exits 1 with it named.
import { parseArgs } from 'node:util';
import { ensureImagesReport } from './ensure-images.ts';
import { IMAGES, type ImageName } from './images.ts';

const { values } = parseArgs({
  options: {
    only: { type: 'string', multiple: true },
    verbose: { type: 'boolean', default: false },
    'cache-dir': { type: 'string' },
    dockerfile: { type: 'string' },
  },
});

const known = IMAGES.map((i) => i.name);
const names = values.only?.flatMap((s) => s.split(','));
for (const n of names ?? []) {
  if (!(known as string[]).includes(n)) {
    console.error(`images:build: unknown image "${n}" (known: ${known.join(', ')})`);
    process.exit(2);
  }
}

const t0 = Date.now();
try {
  const report = await ensureImagesReport({
    names: names as ImageName[] | undefined,
    cacheDir: values['cache-dir'],
    dockerfile: values.dockerfile,
    echo: values.verbose,
    log: (l) => console.error(`images: ${l}`),
  });
  console.log(JSON.stringify({ ...report, totalMs: Date.now() - t0 }, null, 2));
} catch (err) {
  console.error(`images:build failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
