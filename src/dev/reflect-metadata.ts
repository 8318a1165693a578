// The few Reflect metadata functions tsyringe (a dependency of @peculiar/x509) insists on.
// The reflect-metadata package is not installed; this covers what tsyringe calls
// (getMetadata, getOwnMetadata, defineMetadata) and is installed only if nothing else did.
type Store = Map<string | symbol | undefined, Map<unknown, unknown>>;
const stores = new WeakMap<object, Store>();

function table(target: object, property: string | symbol | undefined, create: boolean): Map<unknown, unknown> | undefined {
  let store = stores.get(target);
  if (!store && create) stores.set(target, (store = new Map()));
  let t = store?.get(property);
  if (!t && create && store) store.set(property, (t = new Map()));
  return t;
}

const R = Reflect as unknown as Record<string, unknown>;
if (typeof R.getMetadata !== 'function') {
  const getOwnMetadata = (key: unknown, target: object, property?: string | symbol): unknown => table(target, property, false)?.get(key);
  R.getOwnMetadata = getOwnMetadata;
  R.defineMetadata = (key: unknown, value: unknown, target: object, property?: string | symbol): void => {
    table(target, property, true)!.set(key, value);
  };
  R.getMetadata = (key: unknown, target: object, property?: string | symbol): unknown => {
    for (let o: object | null = target; o; o = Object.getPrototypeOf(o)) {
      const t = table(o, property, false);
      if (t?.has(key)) return t.get(key);
    }
    return undefined;
  };
}
