/** The subcommands of `kneeseg`, one file each. Add a line here to add a subcommand. */
import type { Command } from 'commander';

export const subcommands: ((program: Command) => void)[] = [];
