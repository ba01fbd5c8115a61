// Errors a user can fix (bad file, bad config, bad flag): the CLI prints the message on one line
// and exits with `exitCode`, never a stack trace. Anything else is a bug and exits 1.

export class InputError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'InputError';
  }
}
