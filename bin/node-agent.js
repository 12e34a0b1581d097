#!/usr/bin/env node
// `npx node-agent …`: the compiled agent when built, the TypeScript sources in a checkout.
const { existsSync } = require('fs');
const { join } = require('path');
const compiled = join(__dirname, '..', 'dist', 'node-agent', 'cli.js');
if (existsSync(compiled)) {
  require(compiled);
} else {
  require('ts-node').register({ transpileOnly: true, project: join(__dirname, '..', 'tsconfig.json') });
  require(join(__dirname, '..', 'node-agent', 'cli.ts'));
}
