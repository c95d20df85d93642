// Entry point with every command (dist/cli/main.js; in the bundle, what the
// dispatcher runs for help and mistyped command lines).
import { commands } from './commands/index.js';
import { runCli } from './cli.js';

runCli(commands);
