import { describe, expect, it } from '@jest/globals';
import { OwnWrites } from '../../../../src/operator/runtime/own-writes.ts';

const secret = (name: string, resourceVersion?: string) => ({ metadata: { namespace: 'edge', name, ...(resourceVersion === undefined ? {} : { resourceVersion }) } });

describe('OwnWrites', () => {
  it('knows the version it wrote last, not an earlier one of its own nor anyone else\'s later one', () => {
    const own = new OwnWrites();
    own.record('edge', 'web-keys', '10');
    expect(own.isOwn(secret('web-keys', '10'))).toBe(true);
    own.record('edge', 'web-keys', '12');
    expect(own.isOwn(secret('web-keys', '10'))).toBe(false);
    expect(own.isOwn(secret('web-keys', '12'))).toBe(true);
    expect(own.isOwn(secret('web-keys', '13'))).toBe(false);
    expect(own.isOwn(secret('other', '12'))).toBe(false);
  });

  it('never calls an object without a resourceVersion its own, and forgets on request', () => {
    const own = new OwnWrites();
    own.record('edge', 'a', '');
    expect(own.isOwn(secret('a', ''))).toBe(false);
    expect(own.isOwn(secret('a'))).toBe(false);
    own.record('edge', 'a', '5');
    own.forget('edge', 'a');
    expect(own.isOwn(secret('a', '5'))).toBe(false);
  });

  it('is bounded: beyond maxObjects the least recently written are forgotten', () => {
    const own = new OwnWrites(2);
    own.record('edge', 'a', '1');
    own.record('edge', 'b', '2');
    own.record('edge', 'a', '3'); // a written again: b is now the oldest
    own.record('edge', 'c', '4');
    expect(own.size).toBe(2);
    expect(own.isOwn(secret('b', '2'))).toBe(false);
    expect(own.isOwn(secret('a', '3'))).toBe(true);
    expect(own.isOwn(secret('c', '4'))).toBe(true);
  });
});
