// The key ring core: pure (no I/O; time comes in as `now`), shared by operator, agent and CLI.
export * from './ack-screen.ts';
export * from './actions.ts';
export * from './backoff.ts';
export * from './conditions.ts';
export * from './duration.ts';
export * from './fingerprint.ts';
export * from './key-material.ts';
export * from './observations.ts';
export * from './policy.ts';
export * from './readiness.ts';
export * from './ring.ts';
export * from './secret-format.ts';
export * from './state.ts';
export * from './status.ts';
export * from './step.ts';
