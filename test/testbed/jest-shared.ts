// What the jest global setup hands to the global teardown (same process, maybe not the same
// module instances, hence a registered symbol on globalThis).
export const GUARD_KEY = Symbol.for('ticket-key-operator.testbed.guard');
