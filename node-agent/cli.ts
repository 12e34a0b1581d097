#!/usr/bin/env node
/** Placeholder entry replaced by the node agent issue; kept minimal so the stack can bundle it. */
process.stderr.write('node-agent: not built yet\n');
process.exit(2);
