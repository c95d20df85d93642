// Where each command lives, as data: the bundle's dispatcher (dispatch.ts)
// picks the one bundle a command line needs from it without loading any
// command. The paths are those of the classes; a unit test checks that they
// agree (test/unit/cli/command-table.test.ts): add a new command here too.
import type { CommandClass } from 'clipanion';

export interface CommandEntry {
  paths: string[][];
  /** cli/commands/<module>.ts, exporting the class <name> */
  module: string;
  name: string;
}

export const COMMAND_TABLE: CommandEntry[] = [
  { paths: [['login']], module: 'login', name: 'LoginCommand' },
  { paths: [['logout']], module: 'logout', name: 'LogoutCommand' },
  { paths: [['pull'], ['image', 'pull']], module: 'pull', name: 'PullCommand' },
  { paths: [['images'], ['image', 'ls'], ['image', 'list']], module: 'images', name: 'ImagesCommand' },
  { paths: [['image', 'inspect']], module: 'image-inspect', name: 'ImageInspectCommand' },
  { paths: [['tag'], ['image', 'tag']], module: 'tag', name: 'TagCommand' },
  { paths: [['rmi'], ['image', 'rm']], module: 'rmi', name: 'RmiCommand' },
  { paths: [['run'], ['container', 'run']], module: 'run', name: 'RunCommand' },
  { paths: [['create'], ['container', 'create']], module: 'create', name: 'CreateCommand' },
  { paths: [['start'], ['container', 'start']], module: 'start', name: 'StartCommand' },
  { paths: [['attach'], ['container', 'attach']], module: 'attach', name: 'AttachCommand' },
  { paths: [['container', 'cleanup']], module: 'container-cleanup', name: 'ContainerCleanupCommand' },
  { paths: [['unshare']], module: 'unshare', name: 'UnshareCommand' },
  { paths: [['volume', 'create']], module: 'volume-create', name: 'VolumeCreateCommand' },
  { paths: [['volume', 'ls'], ['volume', 'list']], module: 'volume-ls', name: 'VolumeLsCommand' },
  { paths: [['volume', 'inspect']], module: 'volume-inspect', name: 'VolumeInspectCommand' },
  { paths: [['volume', 'rm'], ['volume', 'remove']], module: 'volume-rm', name: 'VolumeRmCommand' },
  { paths: [['volume', 'prune']], module: 'volume-prune', name: 'VolumePruneCommand' },
  { paths: [['logs'], ['container', 'logs']], module: 'logs', name: 'LogsCommand' },
  { paths: [['stop'], ['container', 'stop']], module: 'stop', name: 'StopCommand' },
  { paths: [['kill'], ['container', 'kill']], module: 'kill', name: 'KillCommand' },
  { paths: [['wait'], ['container', 'wait']], module: 'wait', name: 'WaitCommand' },
  { paths: [['rm'], ['container', 'rm'], ['container', 'remove']], module: 'rm', name: 'RmCommand' },
  { paths: [['restart'], ['container', 'restart']], module: 'restart', name: 'RestartCommand' },
  { paths: [['pause'], ['container', 'pause']], module: 'pause', name: 'PauseCommand' },
  { paths: [['unpause'], ['container', 'unpause']], module: 'unpause', name: 'UnpauseCommand' },
  { paths: [['ps'], ['container', 'ls'], ['container', 'list'], ['container', 'ps']], module: 'ps', name: 'PsCommand' },
  { paths: [['inspect'], ['container', 'inspect']], module: 'inspect', name: 'InspectCommand' },
  { paths: [['port'], ['container', 'port']], module: 'port', name: 'PortCommand' },
  { paths: [['top'], ['container', 'top']], module: 'top', name: 'TopCommand' },
  { paths: [['stats'], ['container', 'stats']], module: 'stats', name: 'StatsCommand' },
  { paths: [['rename'], ['container', 'rename']], module: 'rename', name: 'RenameCommand' },
  { paths: [['container', 'prune']], module: 'container-prune', name: 'ContainerPruneCommand' },
  { paths: [['info'], ['system', 'info']], module: 'info', name: 'InfoCommand' },
  { paths: [['exec'], ['container', 'exec']], module: 'exec', name: 'ExecCommand' },
  { paths: [['version'], ['system', 'version']], module: 'version', name: 'VersionCommand' },
  { paths: [['cp'], ['container', 'cp']], module: 'cp', name: 'CpCommand' },
  { paths: [['diff'], ['container', 'diff']], module: 'diff', name: 'DiffCommand' },
  { paths: [['system', 'df']], module: 'system-df', name: 'SystemDfCommand' },
  { paths: [['system', 'prune']], module: 'system-prune', name: 'SystemPruneCommand' },
  { paths: [['system', 'reset']], module: 'system-reset', name: 'SystemResetCommand' },
  { paths: [['system', 'migrate']], module: 'system-migrate', name: 'SystemMigrateCommand' },
  { paths: [['__complete']], module: 'complete', name: 'CompleteCommand' },
];

/** The command the arguments name (its longest path starts them); undefined for help or a typo. */
export function entryFor(argv: readonly string[]): CommandEntry | undefined {
  let found: { entry: CommandEntry; length: number } | undefined;
  for (const entry of COMMAND_TABLE) {
    for (const path of entry.paths) if (startsWith(argv, path) && path.length > (found?.length ?? 0)) found = { entry, length: path.length };
  }
  return found?.entry;
}

/** The commands whose path starts the arguments; all of them when none does (help, a typo). */
export function commandsFor(argv: readonly string[], all: readonly CommandClass[]): CommandClass[] {
  const matching = all.filter((command) => (command.paths ?? []).some((path) => startsWith(argv, path)));
  return matching.length > 0 ? matching : [...all];
}

function startsWith(argv: readonly string[], path: readonly string[]): boolean {
  return path.length > 0 && path.every((word, i) => argv[i] === word);
}
