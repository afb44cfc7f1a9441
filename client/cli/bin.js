#!/usr/bin/env node
// Installed as the `steadytune` executable: registers tsx so the TypeScript entry runs as is.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./main.ts', import.meta.url).href);
