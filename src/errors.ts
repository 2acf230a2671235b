/**
 * Errors users see. Each names the file (or key) involved and says how to fix it, the way
 * nnU-Net's dataset checks do, so that a failed run over a thousand scans points at the one bad file.
 */
export class KneesegError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A scan, label map or dataset file that cannot be used as it is. */
export class InputError extends KneesegError {
  constructor(
    readonly file: string,
    /** what is wrong, without the file name (for callers that restate it about another file) */
    readonly problem: string,
    readonly fix?: string,
  ) {
    super(`${file}: ${problem}${fix ? `. Fix: ${fix}` : ''}`);
  }
}

/** A configuration value that is unknown or out of range. */
export class ConfigError extends KneesegError {
  constructor(
    readonly key: string,
    problem: string,
  ) {
    super(`config "${key}": ${problem}`);
  }
}

/**
 * An output that cannot be written (a full disk, no permission, a file where a folder is needed) or a
 * folder another kneeseg is writing to. Names the output, never the input being processed.
 */
export class OutputError extends KneesegError {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly fix?: string,
  ) {
    super(`${file}: ${problem}${fix ? `. Fix: ${fix}` : ''}`);
  }
}
