// What the cluster project's jest global setup hands to its teardown (same process, maybe not
// the same module instances, hence a registered symbol on globalThis) and to the tests (env).
import { join } from 'node:path';
import { REPO_ROOT } from '../../cluster/layout.ts';

export const CLUSTER_GUARD_KEY = Symbol.for('ticket-key-operator.cluster.guard');
/** The tests' own state dir, apart from the one `npm run cluster -- up` uses by default. */
export const TEST_CLUSTER_DIR = join(REPO_ROOT, '.tko', 'cluster-test');
