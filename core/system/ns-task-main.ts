// The script ns-run.ts starts under the helper, as root of the user's mapped
// namespace: `node ns-task-main.js TASK ARGS...` prints the task's JSON answer.
// A file of its own so that it is an entry point of the bundle (dist/bundle/).
import { runTask } from './ns-task.js';

runTask(process.argv[2] ?? '', process.argv.slice(3)).then(
  (answer) => process.stdout.write(`${JSON.stringify(answer)}\n`),
  (err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
  },
);
