// Names and limits two processes must agree on: the operator and the agent (agent-wire), the
// agent and the ATS bridge plugin (plugin-wire; the C header is generated from it), and every
// holder of a key (keys). Dependency-free: core, api, agent and operator import it, it imports
// none of them.
export * from './keys.ts';
export * from './events.ts';
export * from './agent-wire.ts';
export * from './plugin-wire.ts';
