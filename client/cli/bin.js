#!/usr/bin/env node
// The `steadytune` executable. Installed from the package, it runs the compiled CLI in dist/.
// In a checkout the TypeScript sources sit beside this file and tsx is installed (a root
// dependency): it runs them as they are, so an edit needs no rebuild.
import { existsSync } from 'node:fs';

const source = new URL('./main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('../dist/cli/main.js', import.meta.url).href);
}
