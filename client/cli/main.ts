// Entry point of the `steadytune` command (see client/cli/bin.js and `npm run cli`).
import { runCli } from './run.js';

const interrupt = new AbortController();
// First Ctrl-C stops streams cleanly; a second one kills the process the usual way.
process.once('SIGINT', () => interrupt.abort());

process.exitCode = await runCli(process.argv.slice(2), process.env, { stdout: process.stdout, stderr: process.stderr }, interrupt.signal);
