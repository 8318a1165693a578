// `npm run testbed:build`: build (or find in the cache) kube-apiserver, etcd and helm, then
// print the directory that holds them.
import { ensureTestbedBinaries } from './tools.ts';

const bins = await ensureTestbedBinaries();
console.log(bins.binDir);
