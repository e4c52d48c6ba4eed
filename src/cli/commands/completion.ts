// `rotor completion bash|zsh|fish`: prints a completion script generated from the command table
// and each command's real options (every command module is loaded for this, once, at install
// time), so it never drifts from what `rotor` accepts.
//   bash: eval "$(rotor completion bash)"        (or save it to /etc/bash_completion.d/rotor)
//   zsh:  eval "$(rotor completion zsh)"         (uses zsh's bashcompinit)
//   fish: rotor completion fish > ~/.config/fish/completions/rotor.fish
import { Command } from 'commander';
import { RotorError } from '../../core/errors.js';
import type { CommandContext } from '../command-context.js';
import type { Wrap } from '../program.js';
import { COMMANDS } from './index.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;

export interface CompletionOption {
  flags: string[];
  takesValue: boolean;
  choices?: readonly string[];
  description: string;
}

export interface CompletionNode {
  /** `audit`, or `audit list` for a subcommand. */
  path: string;
  description: string;
  subcommands: string[];
  options: CompletionOption[];
}

function optionsOf(command: Command): CompletionOption[] {
  return command.options
    .filter((o) => !o.hidden)
    .map((o) => ({
      flags: [o.short, o.long].filter((f): f is string => Boolean(f)),
      takesValue: o.required || o.optional,
      ...(o.argChoices ? { choices: o.argChoices } : {}),
      description: o.description,
    }));
}

/** Every command and subcommand with its options, from the real registrations. */
export async function completionTree(): Promise<{
  global: CompletionOption[];
  nodes: CompletionNode[];
}> {
  const program = new Command('rotor');
  program
    .option('-c, --config <file>', 'policy file')
    .option('--state-dir <dir>', 'state directory')
    .option('--operator <name>', 'who is acting');
  const noWrap: Wrap = () => async () => {};
  for (const entry of COMMANDS) {
    if (entry.name === 'completion') registerCompletion(program, noWrap);
    else (await entry.load())(program, noWrap);
  }
  const nodes: CompletionNode[] = [];
  const visit = (command: Command, prefix: string) => {
    const path = `${prefix}${command.name()}`;
    nodes.push({
      path,
      description: command.description(),
      subcommands: command.commands.map((c) => c.name()),
      options: [
        ...optionsOf(command),
        { flags: ['-h', '--help'], takesValue: false, description: 'show help' },
      ],
    });
    for (const sub of command.commands) visit(sub, `${path} `);
  };
  for (const command of program.commands) visit(command, '');
  return { global: optionsOf(program), nodes };
}

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

export function bashScript(tree: Awaited<ReturnType<typeof completionTree>>): string {
  const valueFlags = [...tree.global, ...tree.nodes.flatMap((n) => n.options)]
    .filter((o) => o.takesValue)
    .flatMap((o) => o.flags);
  const top = tree.nodes.filter((n) => !n.path.includes(' ')).map((n) => n.path);
  const cases = tree.nodes.map((n) => {
    const words = [...n.subcommands, ...n.options.flatMap((o) => o.flags)].join(' ');
    return `    ${quote(n.path)}) words=${quote(words)} ;;`;
  });
  const choiceCases = tree.nodes.flatMap((n) =>
    n.options
      .filter((o) => o.choices)
      .flatMap((o) =>
        o.flags.map(
          (f) =>
            `    ${quote(`${n.path} ${f}`)}) COMPREPLY=($(compgen -W ${quote(o.choices!.join(' '))} -- "$cur")); return ;;`,
        ),
      ),
  );
  return `# rotor completion for bash: eval "$(rotor completion bash)"
_rotor() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local path="" i w skip=""
  local value_flags=" ${valueFlags.join(' ')} "
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if [[ -n $skip ]]; then skip=""; continue; fi
    [[ $w == -- ]] && return 0
    if [[ $w == -* ]]; then [[ $value_flags == *" $w "* ]] && skip=1; continue; fi
    if [[ -z $path ]]; then path="$w"
    elif [[ " $(_rotor_words "$path") " == *" $w "* ]]; then path="$path $w"
    fi
  done
  case "$path $prev" in
${choiceCases.join('\n')}
  esac
  if [[ $value_flags == *" $prev "* ]]; then COMPREPLY=($(compgen -f -- "$cur")); return 0; fi
  if [[ -z $path ]]; then
    COMPREPLY=($(compgen -W ${quote([...top, ...tree.global.flatMap((o) => o.flags), '--help', '--version'].join(' '))} -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(_rotor_words "$path")" -- "$cur"))
  fi
}
_rotor_words() {
  local words=""
  case "$1" in
${cases.join('\n')}
  esac
  printf '%s' "$words"
}
complete -F _rotor rotor
`;
}

export function zshScript(tree: Awaited<ReturnType<typeof completionTree>>): string {
  return `#compdef rotor
# rotor completion for zsh: eval "$(rotor completion zsh)" (uses zsh's bash completion layer)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashScript(tree).split('\n').slice(1).join('\n')}`;
}

export function fishScript(tree: Awaited<ReturnType<typeof completionTree>>): string {
  const lines = [
    '# rotor completion for fish: rotor completion fish > ~/.config/fish/completions/rotor.fish',
    'complete -c rotor -f',
  ];
  const top = tree.nodes.filter((n) => !n.path.includes(' '));
  for (const n of top)
    lines.push(
      `complete -c rotor -n __fish_use_subcommand -a ${n.path} -d ${quote(n.description)}`,
    );
  for (const o of tree.global)
    lines.push(`complete -c rotor -n __fish_use_subcommand ${fishFlags(o)}`);
  for (const n of tree.nodes) {
    const names = n.path.split(' ');
    const condition = names.map((name) => `__fish_seen_subcommand_from ${name}`).join('; and ');
    for (const sub of tree.nodes.filter(
      (s) => s.path.startsWith(`${n.path} `) && s.path.split(' ').length === names.length + 1,
    )) {
      lines.push(
        `complete -c rotor -n ${quote(condition)} -a ${sub.path.split(' ').at(-1)} -d ${quote(sub.description)}`,
      );
    }
    for (const o of n.options)
      lines.push(`complete -c rotor -n ${quote(condition)} ${fishFlags(o)}`);
  }
  return `${lines.join('\n')}\n`;
}

function fishFlags(o: CompletionOption): string {
  const parts = o.flags.map((f) => (f.startsWith('--') ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`));
  if (o.takesValue) parts.push(o.choices ? `-x -a ${quote(o.choices.join(' '))}` : '-r');
  parts.push(`-d ${quote(o.description)}`);
  return parts.join(' ');
}

export async function completionCommand(
  ctx: CommandContext,
  _options: unknown,
  shell: string,
): Promise<number> {
  if (!(SHELLS as readonly string[]).includes(shell)) {
    throw new RotorError(
      'ERR_ROTOR_CLI_USAGE',
      `no completion for shell "${shell}": choose ${SHELLS.join(', ')}`,
    );
  }
  const tree = await completionTree();
  const script =
    shell === 'bash' ? bashScript(tree) : shell === 'zsh' ? zshScript(tree) : fishScript(tree);
  ctx.io.stdout.write(script);
  return 0;
}

export function registerCompletion(program: Command, wrap: Wrap): void {
  program
    .command('completion')
    .description('print the shell completion script for bash, zsh or fish')
    .argument('<shell>', 'bash, zsh or fish')
    .addHelpText(
      'after',
      '\nInstall:\n  bash  echo \'eval "$(rotor completion bash)"\' >> ~/.bashrc\n  zsh   echo \'eval "$(rotor completion zsh)"\' >> ~/.zshrc\n  fish  rotor completion fish > ~/.config/fish/completions/rotor.fish\n',
    )
    .action(wrap(completionCommand));
}
