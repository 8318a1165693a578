// An error whose message is the whole story for the user: the CLI prints it on one line,
// without a stack trace.
export class ClusterError extends Error {
  override name = 'ClusterError';
}
