// Parsing a URL that must have one of a few schemes. The caller builds both errors, so each place
// names its own setting and code, and no error quotes the value (it may hold a password).
export interface SchemeUrlErrors {
  /** The error when the value is not a URL at all. */
  notUrl: () => Error;
  /** The error when the scheme is not one of those allowed; gets e.g. `http:`. */
  wrongScheme: (protocol: string) => Error;
}

/** `value` as a URL whose protocol is one of `schemes` (e.g. `['smtp:', 'smtps:']`). */
export function parseSchemeUrl(
  value: string,
  schemes: readonly string[],
  errors: SchemeUrlErrors,
): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw errors.notUrl();
  }
  if (!schemes.includes(url.protocol)) throw errors.wrongScheme(url.protocol);
  return url;
}
