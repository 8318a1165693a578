import { describe, expect, it } from '@jest/globals';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { listAllPages, type PageRequest } from '../../../../src/operator/runtime/paged-list.ts';

type Obj = KubernetesObject & { big?: string };

/** A collection served `limit` at a time, as the API server does; `field` names the token as typed (_continue) or raw (continue) lists do. */
function server(count: number, field: '_continue' | 'continue' = '_continue') {
  const requests: PageRequest[] = [];
  let live = 0;
  let maxLive = 0;
  const fetchPage = async (page: PageRequest): Promise<KubernetesListObject<Obj>> => {
    requests.push(page);
    const from = page._continue ? Number(page._continue) : 0;
    const to = Math.min(count, from + page.limit);
    const items = Array.from({ length: to - from }, (_, i) => ({ metadata: { name: `o-${from + i}` }, big: 'x'.repeat(1000) }));
    live += items.length; // whole objects handed out and not yet reduced by keep
    maxLive = Math.max(maxLive, live);
    const metadata = { resourceVersion: '77', ...(to < count ? { [field]: String(to), remainingItemCount: count - to } : {}) };
    return { apiVersion: 'v1', kind: 'List', metadata, items };
  };
  const keep = (o: Obj): Obj => {
    live--;
    return { metadata: { name: o.metadata?.name } };
  };
  return { fetchPage, keep, requests, maxLive: () => maxLive };
}

describe('listAllPages', () => {
  it('follows continue tokens until the last page and returns every item, kept, as one list', async () => {
    const s = server(7);
    const list = await listAllPages(s.fetchPage, s.keep, 3);
    expect(list.items.map((o) => o.metadata?.name)).toEqual(['o-0', 'o-1', 'o-2', 'o-3', 'o-4', 'o-5', 'o-6']);
    expect(list.items.every((o) => !('big' in o))).toBe(true);
    expect(s.requests).toEqual([{ limit: 3 }, { limit: 3, _continue: '3' }, { limit: 3, _continue: '6' }]);
    // The snapshot's resourceVersion for the watch; no token or count left for anyone to follow.
    expect(list.metadata).toEqual({ resourceVersion: '77' });
  });

  it('reduces each page before fetching the next, so only one page of whole objects is held', async () => {
    const s = server(10);
    await listAllPages(s.fetchPage, s.keep, 2);
    expect(s.maxLive()).toBe(2);
  });

  it('reads the token of raw custom-object lists (continue) as well', async () => {
    const s = server(5, 'continue');
    const list = await listAllPages(s.fetchPage, s.keep, 2);
    expect(list.items).toHaveLength(5);
    expect(s.requests).toHaveLength(3);
    expect(list.metadata).toEqual({ resourceVersion: '77' });
  });

  it('makes one request for a collection that fits in a page, and copes with items: null', async () => {
    const requests: PageRequest[] = [];
    const list = await listAllPages(
      async (page) => {
        requests.push(page);
        return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '5' }, items: null as unknown as Obj[] };
      },
      (o: Obj) => o,
    );
    expect(requests).toEqual([{ limit: 500 }]);
    expect(list.items).toEqual([]);
  });

  it('fails the whole list when a page fails (an expired token: the informer lists again from the start)', async () => {
    const s = server(6);
    const expired = Object.assign(new Error('410 Gone: the provided continue parameter is too old'), { code: 410 });
    const fetchPage = (page: PageRequest) => (page._continue === '4' ? Promise.reject(expired) : s.fetchPage(page));
    await expect(listAllPages(fetchPage, s.keep, 2)).rejects.toBe(expired);
  });

  it('refuses a page size that is not a positive integer', async () => {
    const s = server(1);
    for (const size of [0, -1, 1.5, Number.NaN]) await expect(listAllPages(s.fetchPage, s.keep, size)).rejects.toThrow(/page size/);
    expect(s.requests).toEqual([]);
  });
});
