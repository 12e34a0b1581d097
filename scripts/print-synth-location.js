#!/usr/bin/env node
// Tells the user where `cdktf synth` wrote the Terraform JSON and what it holds.
const fs = require('fs');
const path = require('path');
const stacks = path.join(__dirname, '..', 'cdktf.out', 'stacks');
for (const stack of fs.existsSync(stacks) ? fs.readdirSync(stacks) : []) {
  const file = path.join(stacks, stack, 'cdk.tf.json');
  if (!fs.existsSync(file)) continue;
  const tf = JSON.parse(fs.readFileSync(file, 'utf8'));
  const count = Object.values(tf.resource || {}).reduce((n, byName) => n + Object.keys(byName).length, 0);
  console.log(`Terraform JSON for stack "${stack}": ${path.relative(process.cwd(), file)} (${count} resources)`);
  console.log(`  plan it with: terraform -chdir=${path.relative(process.cwd(), path.dirname(file))} init && terraform -chdir=${path.relative(process.cwd(), path.dirname(file))} plan`);
}
