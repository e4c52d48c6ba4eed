// Connection failures described without values: error codes and first lines only, with any
// URL (which may hold a password) masked.

/** A short, value-free description of a connection failure (never the URL). */
export function describeConnectError(error: unknown): string {
  const e = error as { code?: string; message?: string; errors?: { code?: string }[] } | undefined;
  const code = e?.code ?? e?.errors?.[0]?.code;
  const text = (e?.message ?? '').split('\n')[0]!.replace(/\w+:\/\/\S+/g, '<url>');
  if (code && !text.includes(code)) return text ? `${code}: ${text}` : code;
  return text || 'unknown error';
}
