// How the operator's Node.js process is tuned. The goal is 200 MB RSS with 1,000 TicketKeySets
// and 10,000 pods (issue 12, `npm run bench:scale`, bench/results/scale.json). Node and V8 flags
// must be given when the process starts (NODE_OPTIONS refuses most V8 flags), so the chart's
// container command starts `node` with them (manifests/operator-deployment.ts), and
// bench/scale.ts starts the operator the same way.
//   --optimize-for-size       V8 grows its heap less eagerly and collects sooner: most of the
//                             saving (measured with 100 sets x 10 pods: idle RSS 295 -> 157 MB).
//   --max-semi-space-size=2   young generation of 3 x 2 MB instead of up to 3 x 16 MB.
//   --no-turbofan             no top-tier compiler: its code and zones are not paid for; the
//                             operator's hot paths are I/O (JSON, TLS), not JavaScript.
export const OPERATOR_NODE_FLAGS = ['--optimize-for-size', '--max-semi-space-size=2', '--no-turbofan'] as const;
