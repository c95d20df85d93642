// The list of commands tsbox registers; one command per file in this folder.
import type { CommandClass } from 'clipanion';
import { LoginCommand } from './login.js';
import { LogoutCommand } from './logout.js';

export const commands: CommandClass[] = [LoginCommand, LogoutCommand];
