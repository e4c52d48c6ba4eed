// Examples shown at the end of `rotor --help` and `rotor <command> --help` (and in docs/cli.md).
// Plain strings only: this module is on every start's path.

export const PROGRAM_EXAMPLES = [
  'rotor init && rotor apply                      # start: inventory, store, master key',
  'rotor status                                   # what is due, overdue, in grace',
  'rotor rotate JWT_ACCESS_SECRET                 # staging first, then production',
  'rotor run -e production --watch -- node app.js # inject values; restart on change',
  'rotor completion bash                          # shell completion (bash, zsh, fish)',
];

export const COMMAND_EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  init: [
    'rotor init',
    'rotor init --force      # keep an existing rotor.yaml, create store and key',
  ],
  apply: ['rotor apply', 'rotor apply --dry-run'],
  import: [
    'printf \'%s\' "$SMTP_PASSWORD" | rotor import SMTP_PASSWORD -e production --rotated-at 2025-06-01',
    'rotor import TLS_KEY -e production --from-file key.pem',
  ],
  status: ['rotor status', 'rotor status -e production --json'],
  check: ['rotor check            # exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN'],
  rotate: [
    'rotor rotate JWT_ACCESS_SECRET',
    'rotor rotate SMTP_PASSWORD -e production --from-file new-password.txt',
    'rotor rotate JWT_REFRESH_SECRET --emergency --reason "key leaked in CI logs"',
  ],
  resume: ['rotor resume'],
  retire: [
    'rotor retire',
    'rotor retire DATABASE_URL -e production --now --reason "old pool drained"',
  ],
  get: [
    'rotor get JWT_ACCESS_SECRET -e staging | pbcopy',
    'ROTOR_ENV=staging rotor get SMTP_PASSWORD --reveal',
  ],
  run: [
    'rotor run -e production -- node server.js',
    'rotor run -e production --watch -- node server.js                  # restart on change',
    'rotor run -e production --watch --on-change SIGHUP -- node server.js # signal; values in $ROTOR_RUN_VALUES_FILE',
  ],
  export: ['rotor export -e staging > .env', 'rotor export -e production --format shell -o env.sh'],
  audit: [
    'rotor audit list --secret JWT_ACCESS_SECRET --since 30d',
    'rotor audit verify',
    'rotor audit export --format csv -o audit.csv',
  ],
  serve: ['rotor serve --port 8080'],
  completion: ['eval "$(rotor completion bash)"'],
};

export function examplesText(lines: readonly string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}
