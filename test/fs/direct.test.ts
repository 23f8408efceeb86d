// O_DIRECT (`direct: true`) on both drivers: aligned transfers go through
// (pool buffers as they are, plain arrays through pool buffers), misaligned
// ones are refused with a coded error before the kernel sees them.
import * as fs from 'node:fs';
import { File, type PercoreError } from '../../src/index';
import { pattern, rejection } from '../support/helpers';
import { fsFixture } from './fixture';

const f = fsFixture('percore-direct-');

/** The file opened with O_DIRECT, or undefined where the file system has none (tmpfs: EINVAL, as documented). */
async function openDirect(name: string): Promise<File | undefined> {
  try {
    return await File.open(f.at(name), { flags: 'w+', direct: true });
  } catch (err) {
    expect(err).toMatchObject({ code: 'EINVAL', syscall: 'open' });
    return undefined;
  }
}

test('aligned writes and reads, through a pool buffer and a plain array', async () => {
  const file = await openDirect('aligned');
  if (file === undefined) return;
  const data = pattern(8192, 5);
  const pooled = f.rt.buffer(4096);
  pooled.set(data.subarray(0, 4096));
  await file.writeAllAt(pooled, 0);
  await file.writeAllAt(data.subarray(4096), 4096); // a plain array, bounced through a pool buffer
  const back = Buffer.alloc(8192);
  const [n] = await file.readExactAt(back, 0);
  expect(n).toBe(8192);
  expect(back.equals(data)).toBe(true);
  const [m, same] = await file.readAt(pooled, 4096);
  expect(m).toBe(4096);
  expect(Buffer.from(same).equals(data.subarray(4096))).toBe(true);
  f.rt.release(pooled);
  await file.close();
  expect(fs.readFileSync(f.at('aligned')).equals(data)).toBe(true);
});

test('a misaligned position, length or buffer is ERR_PERCORE_DIRECT_ALIGNMENT, with the buffer', async () => {
  const file = await openDirect('misaligned');
  if (file === undefined) return;
  const st = await file.stat();
  const align = st.directOffsetAlign || 512;
  const buf = Buffer.alloc(4096);
  const cases: Array<Promise<unknown>> = [
    file.readAt(buf, align / 2),
    file.writeAt(buf, 0, align / 2),
    file.readExactAt(buf, 0, 4096 - 1),
  ];
  const pooled = f.rt.buffer(4096);
  const view = pooled.subarray(1, 1 + align);
  if ((st.directMemoryAlign || 512) > 1) cases.push(file.readAt(view, 0));
  for (const p of cases) {
    const err: PercoreError = await rejection(p);
    expect(err.code).toBe('ERR_PERCORE_DIRECT_ALIGNMENT');
    expect(err.message).toMatch(/multiple of \d+/);
    expect(err.buffer).toBeDefined();
  }
  f.rt.release(pooled);
  await file.close();
});
