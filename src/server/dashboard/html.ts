// Escaping HTML templates. Every interpolated value is escaped unless it is already `SafeHtml`
// (the result of another `html` template), so markup can only come from template literals in
// this folder and anything from the store, the policy or the request is text.

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

type Value = SafeHtml | string | number | boolean | null | undefined | readonly Value[];

function render(value: Value): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/**
 * @example
 * html`<td>${secret.owner}</td>` // the owner's `<script>` is shown, never run
 */
export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Joins already-safe fragments (faster than nesting templates for thousands of rows). */
export function joinHtml(parts: readonly SafeHtml[]): SafeHtml {
  let out = '';
  for (const p of parts) out += p.value;
  return new SafeHtml(out);
}
