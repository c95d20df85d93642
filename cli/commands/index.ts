// The list of commands tsbox registers; one command per file in this folder.
import type { CommandClass } from 'clipanion';

export const commands: CommandClass[] = [];
