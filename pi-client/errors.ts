/**
 * One-line errors for the Pi client. A PiError's message is printed as is (no stack) and its exit code is
 * the process's: 1 a failure (no mic, server down, ...), 2 a usage mistake, 3 the server refused the token
 * (the systemd units do not restart on 3: run `whereabouts-pi setup` again).
 */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_AUTH = 3;

export class PiError extends Error {
  constructor(
    message: string,
    readonly exitCode = EXIT_FAILURE,
  ) {
    super(message);
    this.name = 'PiError';
  }
}

export class UsageError extends PiError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
    this.name = 'UsageError';
  }
}

/** the server refused the device token (401) or it is not a device token (403) */
export class AuthError extends PiError {
  constructor(message: string) {
    super(message, EXIT_AUTH);
    this.name = 'AuthError';
  }
}
