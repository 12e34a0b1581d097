#!/usr/bin/env node
// Tells the user where `cdktf synth` wrote the Terraform JSON, what it holds and what each cluster survives.
// Usage: node scripts/print-synth-location.js [OUTDIR]   (default: cdktf.out beside this script's folder)
const fs = require('fs');
const path = require('path');
const outdir = process.argv[2] ?? path.join(__dirname, '..', 'cdktf.out');
const stacks = path.join(outdir, 'stacks');
for (const stack of fs.existsSync(stacks) ? fs.readdirSync(stacks) : []) {
  const file = path.join(stacks, stack, 'cdk.tf.json');
  if (!fs.existsSync(file)) continue;
  const tf = JSON.parse(fs.readFileSync(file, 'utf8'));
  const count = Object.values(tf.resource || {}).reduce((n, byName) => n + Object.keys(byName).length, 0);
  const dir = path.relative(process.cwd(), path.dirname(file));
  console.log(`Terraform JSON for stack "${stack}": ${path.relative(process.cwd(), file)} (${count} resources)`);
  // Each cluster's `<id>_tolerates` output says what its layout survives, with the arithmetic.
  for (const [name, output] of Object.entries(tf.output || {})) {
    if (name.endsWith('_tolerates')) console.log(`  ${name}: ${output.value}`);
  }
  console.log(`  plan it with: terraform -chdir=${dir} init && terraform -chdir=${dir} plan`);
}
