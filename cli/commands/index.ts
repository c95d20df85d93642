// The list of commands tsbox registers; one command per file in this folder.
import type { CommandClass } from 'clipanion';
import { LoginCommand } from './login.js';
import { LogoutCommand } from './logout.js';
import { PullCommand } from './pull.js';
import { ImagesCommand } from './images.js';
import { ImageInspectCommand } from './image-inspect.js';
import { TagCommand } from './tag.js';
import { RmiCommand } from './rmi.js';
import { RunCommand } from './run.js';
import { CreateCommand } from './create.js';
import { StartCommand } from './start.js';
import { AttachCommand } from './attach.js';
import { ContainerCleanupCommand } from './container-cleanup.js';
import { LogsCommand } from './logs.js';
import { UnshareCommand } from './unshare.js';
import { VolumeCreateCommand } from './volume-create.js';
import { VolumeLsCommand } from './volume-ls.js';
import { VolumeInspectCommand } from './volume-inspect.js';
import { VolumeRmCommand } from './volume-rm.js';
import { VolumePruneCommand } from './volume-prune.js';
import { StopCommand } from './stop.js';
import { KillCommand } from './kill.js';
import { WaitCommand } from './wait.js';
import { RmCommand } from './rm.js';
import { PauseCommand } from './pause.js';
import { UnpauseCommand } from './unpause.js';
import { RestartCommand } from './restart.js';
import { InfoCommand } from './info.js';

export const commands: CommandClass[] = [LoginCommand, LogoutCommand, PullCommand, ImagesCommand, ImageInspectCommand, TagCommand, RmiCommand, RunCommand, CreateCommand, StartCommand, AttachCommand, ContainerCleanupCommand, UnshareCommand, VolumeCreateCommand, VolumeLsCommand, VolumeInspectCommand, VolumeRmCommand, VolumePruneCommand, LogsCommand];

// the commands that end containers
commands.push(StopCommand, KillCommand, WaitCommand, RmCommand, RestartCommand, PauseCommand, UnpauseCommand);

// listing and describing containers
import { PsCommand } from './ps.js';
import { InspectCommand } from './inspect.js';
import { PortCommand } from './port.js';
import { TopCommand } from './top.js';
import { StatsCommand } from './stats.js';
import { RenameCommand } from './rename.js';
import { ContainerPruneCommand } from './container-prune.js';
commands.push(PsCommand, InspectCommand, PortCommand, TopCommand, StatsCommand, RenameCommand, ContainerPruneCommand);

// system
commands.push(InfoCommand);

// running a command in a container
import { ExecCommand } from './exec.js';
commands.push(ExecCommand);

// tsbox version (tsbox --version --verbose)
import { VersionCommand } from './version.js';
commands.push(VersionCommand);

// copying files and listing changes
import { CpCommand } from './cp.js';
import { DiffCommand } from './diff.js';
commands.push(CpCommand, DiffCommand);

// system df, prune, reset, migrate
import { SystemDfCommand } from './system-df.js';
import { SystemPruneCommand } from './system-prune.js';
import { SystemResetCommand } from './system-reset.js';
import { SystemMigrateCommand } from './system-migrate.js';
commands.push(SystemDfCommand, SystemPruneCommand, SystemResetCommand, SystemMigrateCommand);

// the shells' live names (hidden: no usage)
import { CompleteCommand } from './complete.js';
commands.push(CompleteCommand);
