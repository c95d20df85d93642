// Shell completions for bash, zsh and fish from the command definitions.
// Each script carries tables (commands, flags per command, flag values) and a
// small engine that finds the command path in the words typed so far and
// offers commands, flags, a flag's values, or live names. Live names (images,
// containers, volumes) come from the hidden `tsbox __complete KIND [PREFIX]`.
// bash and zsh share one engine, written in the syntax both read (zsh runs it
// under `emulate -L ksh`: 0-based arrays, word splitting).
import type { CommandDoc } from './definitions.js';
import { GENERATED_BY } from './man.js';

export interface CompletionFile {
  /** path under completions/ */
  file: string;
  text: string;
}

const SIGNALS = [
  'SIGABRT', 'SIGALRM', 'SIGBUS', 'SIGCHLD', 'SIGCONT', 'SIGFPE', 'SIGHUP', 'SIGILL', 'SIGINT', 'SIGIO', 'SIGKILL',
  'SIGPIPE', 'SIGPROF', 'SIGPWR', 'SIGQUIT', 'SIGSEGV', 'SIGSTOP', 'SIGSYS', 'SIGTERM', 'SIGTRAP', 'SIGTSTP',
  'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGUSR1', 'SIGUSR2', 'SIGVTALRM', 'SIGWINCH', 'SIGXCPU', 'SIGXFSZ',
];

/** The values a flag takes, by its long name (for every command that has it). */
const FLAG_VALUES: Record<string, string[]> = {
  '--network': ['none', 'host', 'private', 'slirp4netns', 'pasta'],
  '--pull': ['missing', 'always', 'never'],
  '--restart': ['no', 'on-failure', 'always', 'unless-stopped'],
  '--signal': SIGNALS,
  '--stop-signal': SIGNALS,
  '--format': ['json', 'table'],
  '--userns': ['keep-id'],
  '--platform': ['linux/amd64', 'linux/arm64'],
};

/** Flags whose value is a file name. */
const FILE_FLAGS = new Set(['--cidfile', '--env-file', '--authfile']);

type NameKind = 'images' | 'containers' | 'running-containers' | 'volumes';

/** What a command's positional arguments name: the first only, or all of them. */
const POSITIONAL_NAMES: Record<string, { kind: NameKind; which: 'first' | 'all' }> = {
  run: { kind: 'images', which: 'first' },
  create: { kind: 'images', which: 'first' },
  rmi: { kind: 'images', which: 'all' },
  'image inspect': { kind: 'images', which: 'all' },
  tag: { kind: 'images', which: 'first' },
  exec: { kind: 'running-containers', which: 'first' },
  attach: { kind: 'running-containers', which: 'first' },
  stop: { kind: 'running-containers', which: 'all' },
  kill: { kind: 'running-containers', which: 'all' },
  top: { kind: 'running-containers', which: 'first' },
  stats: { kind: 'running-containers', which: 'all' },
  port: { kind: 'running-containers', which: 'first' },
  pause: { kind: 'running-containers', which: 'all' },
  unpause: { kind: 'containers', which: 'all' },
  rm: { kind: 'containers', which: 'all' },
  start: { kind: 'containers', which: 'all' },
  logs: { kind: 'containers', which: 'all' },
  inspect: { kind: 'containers', which: 'all' },
  rename: { kind: 'containers', which: 'first' },
  wait: { kind: 'containers', which: 'all' },
  restart: { kind: 'containers', which: 'all' },
  diff: { kind: 'containers', which: 'first' },
  cp: { kind: 'containers', which: 'all' },
  'container cleanup': { kind: 'containers', which: 'all' },
  'volume rm': { kind: 'volumes', which: 'all' },
  'volume inspect': { kind: 'volumes', which: 'all' },
};

/** Commands whose positional arguments are (also) local paths. */
const FILE_POSITIONALS = new Set(['cp']);

const GLOBAL_FLAGS: Array<[string, string]> = [
  ['--log-level', 'Log messages at and above this level'],
  ['--no-color', 'Do not colour the output'],
  ['--help', 'Help for tsbox'],
  ['--version', 'Print the version'],
];
const LOG_LEVELS = ['debug', 'info', 'warn', 'error'];

interface Spec {
  key: string;
  patterns: string[];
  flags: string[];
  valueFlags: string[];
  kind: string;
  which: string;
  /** positionals after which everything belongs to the command run (`run IMAGE COMMAND...`); 0: none */
  stop: number;
  files: boolean;
  values: Array<{ names: string[]; values: string[] | 'files' }>;
  flagHelp: Array<[string, string]>;
}

function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function spec(command: CommandDoc): Spec {
  const names = POSITIONAL_NAMES[command.name];
  const p = command.positionals;
  const stop = p.proxy ? p.leading.length + p.optional.length : 0;
  const values: Spec['values'] = [];
  for (const option of command.options) {
    if (!option.value) continue;
    const long = option.names.find((n) => n.startsWith('--')) ?? option.names[0]!;
    if (FILE_FLAGS.has(long)) values.push({ names: option.names, values: 'files' });
    else if (FLAG_VALUES[long]) values.push({ names: option.names, values: FLAG_VALUES[long]! });
  }
  return {
    key: command.name,
    patterns: command.paths.map((path) => path.join(' ')),
    flags: [...command.options.flatMap((o) => o.names), '--help'],
    valueFlags: command.options.filter((o) => o.value).flatMap((o) => o.names),
    kind: names?.kind ?? '',
    which: names?.which ?? '',
    stop,
    // file names for the arguments themselves: `cp`'s paths, a command to run from the first word (`unshare`)
    files: FILE_POSITIONALS.has(command.name) || (p.proxy !== undefined && stop === 0),
    values,
    flagHelp: [...command.options.flatMap((o) => o.names.map((n): [string, string] => [n, sentence(o.description)])), ['--help', 'Help for this command']],
  };
}

/** Words for a shell single-quoted string. */
function sq(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The top-level words and, for each group (`volume`), its second words. */
function commandWords(commands: readonly CommandDoc[]): { top: Array<[string, string]>; groups: Map<string, Array<[string, string]>> } {
  const top = new Map<string, string>();
  const groups = new Map<string, Map<string, string>>();
  for (const command of commands) {
    for (const path of command.paths) {
      const description = sentence(command.description);
      if (path.length === 1) {
        top.set(path[0]!, description);
      } else {
        if (!top.has(path[0]!)) top.set(path[0]!, `Manage ${path[0]}s`);
        if (!groups.has(path[0]!)) groups.set(path[0]!, new Map());
        groups.get(path[0]!)!.set(path.slice(1).join(' '), description);
      }
    }
  }
  // a group word's own description wins over a command of the same name (there is none today)
  for (const group of groups.keys()) top.set(group, `Manage ${group}s`);
  const sorted = (m: Map<string, string>) => [...m.entries()].sort(([a], [b]) => a.localeCompare(b));
  return { top: sorted(top), groups: new Map([...groups.entries()].map(([g, m]) => [g, sorted(m)])) };
}

/** The engine and tables bash and zsh share (bash syntax that zsh runs under `emulate -L ksh`). */
function shellEngine(commands: readonly CommandDoc[], zsh: boolean): string {
  const specs = commands.map(spec);
  const { top, groups } = commandWords(commands);
  const emulate = zsh ? '  emulate -L ksh\n' : '';
  const lines: string[] = [];
  lines.push(`_tsbox_commands=${sq(top.map(([w]) => w).join(' '))}`, '');
  lines.push('# the second words of a command group; fails for a word that is not a group');
  lines.push('_tsbox_group() {', emulate + '  case $1 in');
  for (const [group, words] of groups) lines.push(`    ${sq(group)}) _tsbox_reply=(${words.map(([w]) => sq(w)).join(' ')}) ;;`);
  lines.push('    *) return 1 ;;', '  esac', '}', '');
  lines.push('# sets key flags valflags kind which stop files for a command path; fails for an unknown one');
  lines.push('_tsbox_spec() {', emulate + '  case $1 in');
  for (const s of specs) {
    lines.push(
      `    ${s.patterns.map(sq).join('|')})`,
      `      key=${sq(s.key)} flags=${sq(s.flags.join(' '))} valflags=${sq(s.valueFlags.join(' '))}`,
      `      kind=${sq(s.kind)} which=${sq(s.which)} stop=${s.stop} files=${s.files ? 1 : 0} ;;`,
    );
  }
  lines.push('    *) return 1 ;;', '  esac', '}', '');
  lines.push("# a flag's values (key|flag); `files` for a file name; fails when it has no fixed values");
  lines.push('_tsbox_values() {', emulate + '  case "$1|$2" in');
  const byValues = new Map<string, string[]>();
  for (const s of specs) {
    for (const v of s.values) {
      const list = v.values === 'files' ? 'files' : v.values.join(' ');
      if (!byValues.has(list)) byValues.set(list, []);
      byValues.get(list)!.push(...v.names.map((n) => `${s.key}|${n}`));
    }
  }
  byValues.set(LOG_LEVELS.join(' '), ['|--log-level']);
  for (const [list, patterns] of byValues) lines.push(`    ${patterns.map(sq).join('|')}) _tsbox_reply=(${list}) ;;`);
  lines.push('    *) return 1 ;;', '  esac', '}', '');
  lines.push(`${ENGINE.replaceAll('__EMULATE__\n', emulate)}`);
  return lines.join('\n');
}

// In: cur, the word being completed; the words before it (after `tsbox`) as
// arguments; bin, the tsbox being completed. Out: _tsbox_reply (candidates
// to match against cur), _tsbox_want_files=1 when file names fit,
// _tsbox_key and _tsbox_what (commands, group, flags, values, names) for
// descriptions.
const ENGINE = `_tsbox_compute() {
__EMULATE__
  local -a w
  w=("$@")
  local n=\${#w[@]} i=0 prev='' key='' flags='' valflags='' kind='' which='' stop=0 files=0 cmd='' flag=''
  _tsbox_reply=()
  _tsbox_want_files=0
  _tsbox_key=''
  _tsbox_what=''
  if (( n > 0 )); then prev=\${w[n-1]}; fi
  # global options come before the command
  while (( i < n )); do
    case \${w[i]} in
      --log-level) (( i += 2 )) ;;
      -*) (( i += 1 )) ;;
      *) break ;;
    esac
  done
  if (( i >= n )); then
    if [[ $prev == --log-level ]]; then
      _tsbox_values '' --log-level; _tsbox_what=values
    elif [[ $cur == --log-level=* ]]; then
      _tsbox_values '' --log-level; _tsbox_prefix --log-level=; _tsbox_what=values
    elif [[ $cur == -* ]]; then
      _tsbox_reply=(--log-level --no-color --help --version); _tsbox_what=flags
    else
      _tsbox_reply=($_tsbox_commands); _tsbox_what=commands
    fi
    return 0
  fi
  cmd=\${w[i]}
  (( i += 1 ))
  if _tsbox_group "$cmd"; then
    if (( i >= n )); then _tsbox_key=$cmd; _tsbox_what=group; return 0; fi
    cmd="$cmd \${w[i]}"
    (( i += 1 ))
  fi
  _tsbox_reply=()
  _tsbox_spec "$cmd" || return 0
  _tsbox_key=$key
  # the positional arguments so far, and whether the last word wants a value
  local pos=0 j=$i
  while (( j < n )); do
    if (( stop > 0 && pos >= stop )); then break; fi
    case \${w[j]} in
      --) (( pos += n - j - 1 )); break ;;
      --*=*) ;;
      -*) if [[ " $valflags " == *" \${w[j]} "* ]]; then
            if (( j == n - 1 )); then flag=\${w[j]}; fi
            (( j += 1 ))
          fi ;;
      *) (( pos += 1 )) ;;
    esac
    (( j += 1 ))
  done
  if (( stop > 0 && pos >= stop )); then _tsbox_want_files=1; return 0; fi
  if [[ -n $flag ]]; then
    _tsbox_what=values
    if _tsbox_values "$key" "$flag"; then
      if [[ \${_tsbox_reply[0]} == files ]]; then _tsbox_reply=(); _tsbox_want_files=1; fi
    fi
    return 0
  fi
  if [[ $cur == -*=* ]]; then
    _tsbox_what=values
    if _tsbox_values "$key" "\${cur%%=*}"; then
      if [[ \${_tsbox_reply[0]} == files ]]; then _tsbox_reply=(); _tsbox_want_files=1; else _tsbox_prefix "\${cur%%=*}="; fi
    fi
    return 0
  fi
  if [[ $cur == -* ]]; then _tsbox_reply=($flags); _tsbox_what=flags; return 0; fi
  if [[ -n $kind ]] && [[ $which == all || $pos == 0 ]]; then
    local name
    while IFS= read -r name; do _tsbox_reply+=("$name"); done < <("$bin" __complete "$kind" "$cur" 2>/dev/null)
    _tsbox_what=names
  fi
  if (( files )); then _tsbox_want_files=1; fi
  return 0
}

# puts $1 before every candidate (--network=none)
_tsbox_prefix() {
__EMULATE__
  local -a out
  local c
  out=()
  for c in "\${_tsbox_reply[@]}"; do out+=("$1$c"); done
  _tsbox_reply=("\${out[@]}")
}
`;

function bashScript(commands: readonly CommandDoc[]): string {
  return `# bash completion for tsbox.
# Generated by ${GENERATED_BY}; do not edit.
# Install: copy to /usr/share/bash-completion/completions/tsbox (or
# ~/.local/share/bash-completion/completions/tsbox), or source it from ~/.bashrc.

${shellEngine(commands, false)}
_tsbox() {
  # the words up to the cursor, split at blanks only: an image name's ':' and
  # a flag's '=' stay in the word (bash's COMP_WORDS splits there)
  local line=\${COMP_LINE:0:COMP_POINT}
  local -a words
  read -ra words <<<"$line"
  if [[ \${#words[@]} -eq 0 || $line =~ [[:space:]]$ ]]; then words+=(''); fi
  local cur=\${words[\${#words[@]}-1]}
  local bin=\${words[0]}
  local -a _tsbox_reply
  local _tsbox_want_files=0 _tsbox_key='' _tsbox_what=''
  _tsbox_compute "\${words[@]:1:\${#words[@]}-2}"
  if [[ $_tsbox_what == group ]]; then _tsbox_group "$_tsbox_key"; fi
  COMPREPLY=()
  local c
  for c in "\${_tsbox_reply[@]}"; do
    if [[ $c == "$cur"* ]]; then COMPREPLY+=("$c"); fi
  done
  # bash replaces only the part of the word after its last ':' or '='
  local strip=\${cur%"\${cur##*[:=]}"}
  if [[ -n $strip ]]; then
    local i
    for i in "\${!COMPREPLY[@]}"; do COMPREPLY[i]=\${COMPREPLY[i]#"$strip"}; done
  fi
  if (( _tsbox_want_files )) && (( \${#COMPREPLY[@]} == 0 )); then
    compopt -o default 2>/dev/null
  fi
  return 0
}
complete -F _tsbox tsbox
`;
}

/** `word:description` pairs for zsh's compadd -d, by what is completed. */
function zshHelp(commands: readonly CommandDoc[]): string {
  const { top, groups } = commandWords(commands);
  const lines: string[] = ['# a description for each candidate: _tsbox_help KEY WORD', '_tsbox_help() {', '  case "$1|$2" in'];
  const seen = new Map<string, string>();
  const add = (pattern: string, text: string) => {
    if (!seen.has(pattern)) seen.set(pattern, text);
  };
  for (const [word, description] of top) add(`|${word}`, description);
  for (const [group, words] of groups) for (const [word, description] of words) add(`${group}|${word}`, description);
  for (const [flag, description] of GLOBAL_FLAGS) add(`|${flag}`, description);
  for (const s of commands.map(spec)) for (const [flag, description] of s.flagHelp) add(`${s.key}|${flag}`, description);
  for (const [pattern, text] of seen) lines.push(`    ${sq(pattern)}) REPLY=${sq(text)} ;;`);
  lines.push("    *) REPLY='' ;;", '  esac', '}');
  return lines.join('\n');
}

function zshScript(commands: readonly CommandDoc[]): string {
  return `#compdef tsbox
# zsh completion for tsbox.
# Generated by ${GENERATED_BY}; do not edit.
# Install: put this file, named _tsbox, in a directory of $fpath before compinit runs.

${shellEngine(commands, true)}
${zshHelp(commands)}

_tsbox() {
  local cur=\${words[CURRENT]}
  local bin=\${words[1]}
  local -a _tsbox_reply prior
  local _tsbox_want_files=0 _tsbox_key='' _tsbox_what=''
  prior=("\${(@)words[2,CURRENT-1]}")
  _tsbox_compute "\${prior[@]}"
  if [[ $_tsbox_what == group ]]; then _tsbox_group "$_tsbox_key"; fi
  if (( \${#_tsbox_reply} > 0 )); then
    local -a shown
    local c REPLY
    shown=()
    for c in "\${_tsbox_reply[@]}"; do
      REPLY=''
      case $_tsbox_what in
        commands) _tsbox_help '' "$c" ;;
        group) _tsbox_help "$_tsbox_key" "$c" ;;
        flags) _tsbox_help "$_tsbox_key" "$c" ;;
      esac
      if [[ -n $REPLY ]]; then shown+=("$c  -- $REPLY"); else shown+=("$c"); fi
    done
    compadd -l -d shown -- "\${_tsbox_reply[@]}"
  fi
  if (( _tsbox_want_files )); then _files; fi
}

if [[ \${funcstack[1]} == _tsbox ]]; then
  _tsbox "$@"
else
  compdef _tsbox tsbox
fi
`;
}

function fishScript(commands: readonly CommandDoc[]): string {
  const specs = commands.map(spec);
  const { top, groups } = commandWords(commands);
  const fq = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const lines: string[] = [
    '# fish completion for tsbox.',
    `# Generated by ${GENERATED_BY}; do not edit.`,
    '# Install: copy to ~/.config/fish/completions/tsbox.fish (or /usr/share/fish/vendor_completions.d/).',
    '',
    '# candidates, one a line, a tab before the description',
    'function __tsbox_commands',
    ...top.map(([w, d]) => `    printf '%s\\t%s\\n' ${fq(w)} ${fq(d)}`),
    'end',
    '',
    'function __tsbox_group',
    '    switch $argv[1]',
  ];
  for (const [group, words] of groups) {
    lines.push(`        case ${fq(group)}`, ...words.map(([w, d]) => `            printf '%s\\t%s\\n' ${fq(w)} ${fq(d)}`));
  }
  lines.push('        case \'*\'', '            return 1', '    end', 'end', '');
  lines.push('# key, flags, value flags, kind, which, stop, files: one a line', 'function __tsbox_spec', '    switch $argv[1]');
  for (const s of specs) {
    lines.push(`        case ${s.patterns.map(fq).join(' ')}`);
    lines.push(`            printf '%s\\n' ${[s.key, s.flags.join(' '), s.valueFlags.join(' '), s.kind, s.which, String(s.stop), s.files ? '1' : '0'].map(fq).join(' ')}`);
  }
  lines.push('        case \'*\'', '            return 1', '    end', 'end', '');
  lines.push('function __tsbox_flag_help', '    switch "$argv[1]|$argv[2]"');
  for (const s of specs) for (const [flag, description] of s.flagHelp) lines.push(`        case ${fq(`${s.key}|${flag}`)}`, `            echo ${fq(description)}`);
  lines.push('    end', 'end', '');
  lines.push("# a flag's values; `files` for a file name", 'function __tsbox_values', '    switch "$argv[1]|$argv[2]"');
  const byValues = new Map<string, string[]>();
  for (const s of specs) {
    for (const v of s.values) {
      const list = v.values === 'files' ? 'files' : v.values.join(' ');
      if (!byValues.has(list)) byValues.set(list, []);
      byValues.get(list)!.push(...v.names.map((n) => `${s.key}|${n}`));
    }
  }
  byValues.set(LOG_LEVELS.join(' '), ['|--log-level']);
  for (const [list, patterns] of byValues) lines.push(`        case ${patterns.map(fq).join(' ')}`, `            printf '%s\\n' ${list.split(' ').map(fq).join(' ')}`);
  lines.push("        case '*'", '            return 1', '    end', 'end', '');
  lines.push(FISH_ENGINE);
  return `${lines.join('\n')}\n`;
}

const FISH_ENGINE = `function __tsbox_complete
    set -l w (commandline -opc)
    set -l bin $w[1]
    set -e w[1]
    set -l cur (commandline -ct)
    set -l n (count $w)
    set -l i 1
    set -l prev ''
    test $n -gt 0; and set prev $w[$n]
    while test $i -le $n
        switch $w[$i]
            case --log-level
                set i (math $i + 2)
            case '-*'
                set i (math $i + 1)
            case '*'
                break
        end
    end
    if test $i -gt $n
        if test "$prev" = --log-level
            __tsbox_values '' --log-level
        else if string match -q -- '--log-level=*' $cur
            __tsbox_values '' --log-level | string replace -r '^' -- '--log-level='
        else if string match -q -- '-*' $cur
            printf '%s\\n' --log-level --no-color --help --version
        else
            __tsbox_commands
        end
        return
    end
    set -l cmd $w[$i]
    set i (math $i + 1)
    if __tsbox_group $cmd >/dev/null
        if test $i -gt $n
            __tsbox_group $cmd
            return
        end
        set cmd "$cmd $w[$i]"
        set i (math $i + 1)
    end
    set -l spec (__tsbox_spec $cmd); or return
    set -l key $spec[1]
    set -l flags (string split -n ' ' -- $spec[2])
    set -l valflags (string split -n ' ' -- $spec[3])
    set -l kind $spec[4]
    set -l which $spec[5]
    set -l stop $spec[6]
    set -l files $spec[7]
    set -l pos 0
    set -l flag ''
    set -l j $i
    while test $j -le $n
        if test $stop -gt 0 -a $pos -ge $stop
            break
        end
        set -l word $w[$j]
        switch $word
            case --
                set pos (math $pos + $n - $j)
                break
            case '--*=*'
            case '-*'
                if contains -- $word $valflags
                    test $j -eq $n; and set flag $word
                    set j (math $j + 1)
                end
            case '*'
                set pos (math $pos + 1)
        end
        set j (math $j + 1)
    end
    if test $stop -gt 0 -a $pos -ge $stop
        __fish_complete_path $cur
        return
    end
    if test -n "$flag"
        set -l values (__tsbox_values $key $flag)
        if test "$values" = files
            __fish_complete_path $cur
        else
            printf '%s\\n' $values
        end
        return
    end
    if string match -q -- '-*=*' $cur
        set -l name (string split -m 1 '=' -- $cur)[1]
        set -l values (__tsbox_values $key $name)
        if test "$values" = files
            __fish_complete_path (string split -m 1 '=' -- $cur)[2] | string replace -r '^' -- "$name="
        else
            printf '%s\\n' $values | string replace -r '^' -- "$name="
        end
        return
    end
    if string match -q -- '-*' $cur
        for f in $flags
            printf '%s\\t%s\\n' $f (__tsbox_flag_help $key $f)
        end
        return
    end
    if test -n "$kind"
        if test "$which" = all -o $pos -eq 0
            $bin __complete $kind $cur 2>/dev/null
        end
    end
    if test "$files" = 1
        __fish_complete_path $cur
    end
end

complete -c tsbox -f -a '(__tsbox_complete)'`;

export function completionFiles(commands: readonly CommandDoc[]): CompletionFile[] {
  return [
    { file: 'bash/tsbox', text: bashScript(commands) },
    { file: 'zsh/_tsbox', text: zshScript(commands) },
    { file: 'fish/tsbox.fish', text: fishScript(commands) },
  ];
}
