// Which commands clipanion must know for a command line, and where each
// lives: a command line loads only the module of the command it names.
// Evaluating all ~45 command modules (and what they import) cost ~14 ms of
// every command's start. The paths are those of the classes; a unit test
// checks that they agree (test/unit/cli/command-table.test.ts).
import type { CommandClass } from 'clipanion';

export interface CommandEntry {
  paths: string[][];
  load: () => Promise<CommandClass>;
}

export const COMMAND_TABLE: CommandEntry[] = [
  { paths: [['login']], load: async () => (await import('./commands/login.js')).LoginCommand },
  { paths: [['logout']], load: async () => (await import('./commands/logout.js')).LogoutCommand },
  { paths: [['pull'], ['image', 'pull']], load: async () => (await import('./commands/pull.js')).PullCommand },
  { paths: [['images'], ['image', 'ls'], ['image', 'list']], load: async () => (await import('./commands/images.js')).ImagesCommand },
  { paths: [['image', 'inspect']], load: async () => (await import('./commands/image-inspect.js')).ImageInspectCommand },
  { paths: [['tag'], ['image', 'tag']], load: async () => (await import('./commands/tag.js')).TagCommand },
  { paths: [['rmi'], ['image', 'rm']], load: async () => (await import('./commands/rmi.js')).RmiCommand },
  { paths: [['run'], ['container', 'run']], load: async () => (await import('./commands/run.js')).RunCommand },
  { paths: [['create'], ['container', 'create']], load: async () => (await import('./commands/create.js')).CreateCommand },
  { paths: [['start'], ['container', 'start']], load: async () => (await import('./commands/start.js')).StartCommand },
  { paths: [['attach'], ['container', 'attach']], load: async () => (await import('./commands/attach.js')).AttachCommand },
  { paths: [['container', 'cleanup']], load: async () => (await import('./commands/container-cleanup.js')).ContainerCleanupCommand },
  { paths: [['unshare']], load: async () => (await import('./commands/unshare.js')).UnshareCommand },
  { paths: [['volume', 'create']], load: async () => (await import('./commands/volume-create.js')).VolumeCreateCommand },
  { paths: [['volume', 'ls'], ['volume', 'list']], load: async () => (await import('./commands/volume-ls.js')).VolumeLsCommand },
  { paths: [['volume', 'inspect']], load: async () => (await import('./commands/volume-inspect.js')).VolumeInspectCommand },
  { paths: [['volume', 'rm'], ['volume', 'remove']], load: async () => (await import('./commands/volume-rm.js')).VolumeRmCommand },
  { paths: [['volume', 'prune']], load: async () => (await import('./commands/volume-prune.js')).VolumePruneCommand },
  { paths: [['logs'], ['container', 'logs']], load: async () => (await import('./commands/logs.js')).LogsCommand },
  { paths: [['stop'], ['container', 'stop']], load: async () => (await import('./commands/stop.js')).StopCommand },
  { paths: [['kill'], ['container', 'kill']], load: async () => (await import('./commands/kill.js')).KillCommand },
  { paths: [['wait'], ['container', 'wait']], load: async () => (await import('./commands/wait.js')).WaitCommand },
  { paths: [['rm'], ['container', 'rm'], ['container', 'remove']], load: async () => (await import('./commands/rm.js')).RmCommand },
  { paths: [['restart'], ['container', 'restart']], load: async () => (await import('./commands/restart.js')).RestartCommand },
  { paths: [['pause'], ['container', 'pause']], load: async () => (await import('./commands/pause.js')).PauseCommand },
  { paths: [['unpause'], ['container', 'unpause']], load: async () => (await import('./commands/unpause.js')).UnpauseCommand },
  { paths: [['ps'], ['container', 'ls'], ['container', 'list'], ['container', 'ps']], load: async () => (await import('./commands/ps.js')).PsCommand },
  { paths: [['inspect'], ['container', 'inspect']], load: async () => (await import('./commands/inspect.js')).InspectCommand },
  { paths: [['port'], ['container', 'port']], load: async () => (await import('./commands/port.js')).PortCommand },
  { paths: [['top'], ['container', 'top']], load: async () => (await import('./commands/top.js')).TopCommand },
  { paths: [['stats'], ['container', 'stats']], load: async () => (await import('./commands/stats.js')).StatsCommand },
  { paths: [['rename'], ['container', 'rename']], load: async () => (await import('./commands/rename.js')).RenameCommand },
  { paths: [['container', 'prune']], load: async () => (await import('./commands/container-prune.js')).ContainerPruneCommand },
  { paths: [['info'], ['system', 'info']], load: async () => (await import('./commands/info.js')).InfoCommand },
  { paths: [['exec'], ['container', 'exec']], load: async () => (await import('./commands/exec.js')).ExecCommand },
  { paths: [['version'], ['system', 'version']], load: async () => (await import('./commands/version.js')).VersionCommand },
  { paths: [['cp'], ['container', 'cp']], load: async () => (await import('./commands/cp.js')).CpCommand },
  { paths: [['diff'], ['container', 'diff']], load: async () => (await import('./commands/diff.js')).DiffCommand },
  { paths: [['system', 'df']], load: async () => (await import('./commands/system-df.js')).SystemDfCommand },
  { paths: [['system', 'prune']], load: async () => (await import('./commands/system-prune.js')).SystemPruneCommand },
  { paths: [['system', 'reset']], load: async () => (await import('./commands/system-reset.js')).SystemResetCommand },
  { paths: [['system', 'migrate']], load: async () => (await import('./commands/system-migrate.js')).SystemMigrateCommand },
  { paths: [['__complete']], load: async () => (await import('./commands/complete.js')).CompleteCommand },
];

/** The classes of the commands the arguments name; undefined when none does (help, a typo). */
export async function loadCommandsFor(argv: readonly string[]): Promise<CommandClass[] | undefined> {
  const matching = COMMAND_TABLE.filter((entry) => entry.paths.some((path) => startsWith(argv, path)));
  if (matching.length === 0) return undefined;
  return Promise.all(matching.map((entry) => entry.load()));
}

/** The first words of multi-word commands (`volume`, `system`, ...). */
export function groupNames(): Set<string> {
  return new Set(COMMAND_TABLE.flatMap((entry) => entry.paths.filter((path) => path.length > 1).map((path) => path[0]!)));
}

function startsWith(argv: readonly string[], path: readonly string[]): boolean {
  return path.length > 0 && path.every((word, i) => argv[i] === word);
}
