// A Server-Sent Events parser over a fetch body (WHATWG EventSource parsing rules: `event`,
// `data` (joined by newlines), `id`, `retry`, comment lines; LF, CR or CRLF line ends), so the
// client needs no EventSource polyfill and can send its bearer token and Last-Event-ID.

export interface SseMessage {
  event: string;
  data: string;
  /** The last event id seen so far (it persists across events, as in EventSource). */
  lastEventId: string;
}

export interface SseParser {
  /** Feeds decoded text; returns the messages it completed. */
  push(text: string): SseMessage[];
  /** The `retry:` value last sent by the server, in ms. */
  retry(): number | undefined;
}

export function createSseParser(initialLastEventId = ''): SseParser {
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let lastEventId = initialLastEventId;
  let retry: number | undefined;
  let pendingCr = false;

  function line(text: string, out: SseMessage[]): void {
    if (text === '') {
      if (data.length > 0)
        out.push({ event: event || 'message', data: data.join('\n'), lastEventId });
      event = '';
      data = [];
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id' && !value.includes('\0')) lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
  }

  return {
    push(text) {
      const out: SseMessage[] = [];
      let start = 0;
      buffer += text;
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer.charCodeAt(i);
        if (c === 10 && pendingCr) {
          // The LF of a CRLF whose CR already ended the line.
          pendingCr = false;
          start = i + 1;
          continue;
        }
        pendingCr = false;
        if (c === 10 || c === 13) {
          line(buffer.slice(start, i), out);
          start = i + 1;
          if (c === 13) pendingCr = true;
        }
      }
      buffer = buffer.slice(start);
      return out;
    },
    retry: () => retry,
  };
}
