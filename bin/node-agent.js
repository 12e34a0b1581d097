#!/usr/bin/env node
// `npx node-agent …`: the TypeScript sources in a checkout, the compiled agent in the published package.
const { existsSync } = require('fs');
const { join } = require('path');
const source = join(__dirname, '..', 'node-agent', 'cli.ts');
if (existsSync(source)) {
  require('ts-node').register({ transpileOnly: true, project: join(__dirname, '..', 'tsconfig.json') });
  require(source).main(process.argv.slice(2)).then((code) => process.exit(code));
} else {
  require(join(__dirname, '..', 'dist', 'node-agent', 'cli.js')).main(process.argv.slice(2)).then((code) => process.exit(code));
}
