// Per-request options for client-node 2.x API calls (the second argument of every method):
// patch content types and request timeouts, as middleware.
import { PatchStrategy, setHeaderOptions, type ConfigurationOptions } from '@kubernetes/client-node';
import { of } from '@kubernetes/client-node/dist/gen/rxjsStub.js';

type Options = ConfigurationOptions;

/**
 * Bound of one Kubernetes API request when the caller sets none (`tko operator --kube-timeout`,
 * `tko status --kube-timeout`). client-node 2.x waits forever otherwise: a hung API server
 * connection would wedge a reconcile, and with it the liveness probe.
 */
export const DEFAULT_KUBE_TIMEOUT_MS = 15_000;

/** The Accept header of a metadata-only LIST: items without data/spec/status. */
export const ACCEPT_METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
/** The Accept header of a metadata-only WATCH: events carry PartialObjectMetadata objects. */
export const ACCEPT_METADATA = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

/** Asks for metadata only (a list of PartialObjectMetadata), e.g. for Secrets whose bytes are not needed. */
export function metadataOnlyList(opts?: Options): Options {
  return setHeaderOptions('Accept', ACCEPT_METADATA_LIST, opts) as Options;
}

/** Sends the body as a JSON merge patch (RFC 7386). */
export function mergePatch(opts?: Options): Options {
  return setHeaderOptions('Content-Type', PatchStrategy.MergePatch, opts) as Options;
}

/** Sends the body as a Kubernetes strategic merge patch (built-in types only). */
export function strategicMergePatch(opts?: Options): Options {
  return setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch, opts) as Options;
}

/** Sends the body as a server-side apply configuration (YAML or JSON). */
export function serverSideApply(opts?: Options): Options {
  return setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply, opts) as Options;
}

/** Aborts the request when it takes longer than ms (client-node sets no timeout of its own). */
export function withTimeout(ms: number, opts?: Options): Options {
  return {
    ...opts,
    middleware: [
      ...((opts?.middleware as unknown[] | undefined) ?? []),
      {
        pre: (ctx: { setSignal(signal: AbortSignal): void }) => {
          ctx.setSignal(AbortSignal.timeout(ms));
          return of(ctx);
        },
        post: (ctx: unknown) => of(ctx),
      },
    ],
    middlewareMergeStrategy: 'append',
  } as Options;
}
