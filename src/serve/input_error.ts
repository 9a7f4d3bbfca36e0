/** A client error: HTTP status + a reason for the response body (its own module: every layer of the service throws it). */
export class InputError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}
