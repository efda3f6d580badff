/** The few log calls alerts make; the HTTP server's logger once it exists. */
export interface AlertLog {
  debug(context: object, message: string): void;
  info(context: object, message: string): void;
  warn(context: object, message: string): void;
}
