// Moved to src/dev/kubelet-atomic-writer.ts (the dev ATS launcher publishes its config directory
// with it); tests keep importing it from here.
export * from '../../src/dev/kubelet-atomic-writer.ts';
