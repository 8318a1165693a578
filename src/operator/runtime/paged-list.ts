// LISTs in pages, as client-go's reflector does: the API server answers `limit` objects at a
// time with a continue token, all pages from one consistent snapshot. Each page is reduced to
// what the cache keeps (`keep`) before the next is fetched, so a list of 10,000 pods never holds
// more than one page of whole objects and one page of JSON at once (issue 12: a single LIST
// of 10,000 pods was the operator's highest RSS, at start-up).
import type { KubernetesListObject, KubernetesObject, V1ListMeta } from '@kubernetes/client-node';

/** client-go's page size. */
export const LIST_PAGE_SIZE = 500;

export interface PageRequest {
  limit: number;
  /** The previous page's continue token; absent for the first page. */
  _continue?: string;
}

/**
 * Every page of one LIST, as one list: the items kept, the resourceVersion of the snapshot
 * (the last page's; every page carries the same), no continue token. A failed page (e.g. 410
 * for an expired token) fails the whole list, which the informer then retries from the start.
 */
export async function listAllPages<T extends KubernetesObject, U extends KubernetesObject = T>(
  fetchPage: (page: PageRequest) => Promise<KubernetesListObject<T>>,
  keep: (item: T) => U,
  pageSize: number = LIST_PAGE_SIZE,
): Promise<KubernetesListObject<U>> {
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new RangeError(`list page size must be a positive integer, not ${pageSize}`);
  const items: U[] = [];
  let token: string | undefined;
  let last: KubernetesListObject<T>;
  do {
    last = await fetchPage({ limit: pageSize, ...(token ? { _continue: token } : {}) });
    for (const item of last.items ?? []) items.push(keep(item)); // an empty page may have items: null
    token = continueOf(last.metadata);
  } while (token);
  const { _continue: _token, continue: _rawToken, remainingItemCount: _remaining, ...metadata } = (last.metadata ?? {}) as V1ListMeta & { continue?: string };
  return { ...last, metadata, items };
}

/** Typed lists name it `_continue`; custom objects arrive as plain JSON with `continue`. */
function continueOf(metadata: KubernetesListObject<KubernetesObject>['metadata']): string | undefined {
  const m = metadata as (V1ListMeta & { continue?: string }) | undefined;
  return m?._continue || m?.continue || undefined;
}
