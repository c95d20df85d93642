import { Command, Option, UsageError } from 'clipanion';
import { BaseCommand } from '../base.js';
import { parseTlsVerify, tlsVerifyOption } from '../options.js';
import { globalOptions } from '../global-options.js';

export class LoginCommand extends BaseCommand {
  static override paths = [['login']];

  static override usage = Command.Usage({
    category: 'Registries',
    description: 'log in to a container registry',
    details: `
      Checks USERNAME and PASSWORD against REGISTRY and, when it accepts them, stores them in the auth file (\`$REGISTRY_AUTH_FILE\`, else \`$XDG_RUNTIME_DIR/containers/auth.json\`, mode 0600), where pull and push find them. The file has podman's and docker's format.

      Without \`-u\` and \`-p\`, asks for them on the terminal. In scripts, pass the password on standard input with \`--password-stdin\` rather than \`-p\`, which other users can see in the process list.
    `,
    examples: [
      ['Log in, asking for the username and password', '$0 login quay.io'],
      ['Log in from a script', 'echo "$TOKEN" | $0 login -u robot --password-stdin registry.example.com'],
      ['Log in to a registry that speaks plain http', '$0 login --tls-verify=false -u me localhost:5000'],
    ],
  });

  username = Option.String('-u,--username', { description: 'Username for the registry' });
  password = Option.String('-p,--password', { description: 'Password for the registry (visible to other users: prefer --password-stdin)' });
  passwordStdin = Option.Boolean('--password-stdin', false, { description: 'Read the password from standard input' });
  tlsVerify = tlsVerifyOption();
  authfile = Option.String('--authfile', { description: 'Path of the auth file (default: $REGISTRY_AUTH_FILE or $XDG_RUNTIME_DIR/containers/auth.json)' });
  registry = Option.String({ name: 'REGISTRY' });

  async execute(): Promise<number> {
    const verify = parseTlsVerify(this.tlsVerify);
    if (this.passwordStdin && this.password !== undefined) throw new UsageError('--password and --password-stdin cannot be used together');
    if (this.passwordStdin && this.username === undefined) throw new UsageError('--password-stdin needs --username');
    const { key, host } = registryKey(this.registry);
    if (this.authfile) process.env.REGISTRY_AUTH_FILE = this.authfile;

    const { TsboxError } = await import('../../core/errors.js');
    const interactive = Boolean((this.stdin as { isTTY?: boolean }).isTTY);
    let username = this.username;
    let password = this.password;
    if (this.passwordStdin) {
      password = (await readAll(this.stdin)).replace(/\r?\n$/, '');
    }
    if (username === undefined) {
      if (!interactive) throw new TsboxError('no username given and standard input is not a terminal', { hint: 'use -u USERNAME with --password-stdin' });
      username = (await prompt({ stdin: this.stdin, stderr: this.context.stderr }, 'Username: ', false)).trim();
    }
    if (password === undefined) {
      if (!interactive) throw new TsboxError('no password given and standard input is not a terminal', { hint: 'use --password-stdin' });
      password = await prompt({ stdin: this.stdin, stderr: this.context.stderr }, 'Password: ', true);
    }
    if (username === '') throw new TsboxError('username is empty');
    if (password === '') throw new TsboxError('password is empty');

    const { RegistryClient } = await import('../../core/registry/index.js');
    let insecure = verify === false;
    if (verify === undefined) {
      const { loadRegistriesConf, findRegistry } = await import('../../core/config/registries.js');
      insecure = findRegistry(host, loadRegistriesConf())?.insecure ?? false;
    }
    const client = new RegistryClient({ registry: host, insecure, credentials: { username, password }, reporter: debugReporter(this.context.stderr) });
    try {
      await client.checkLogin();
    } finally {
      await client.close();
    }
    const { saveCredentials } = await import('../../core/config/auth.js');
    saveCredentials(key, { username, password });
    this.context.stdout.write('Login Succeeded!\n');
    return 0;
  }
}

/**
 * The auth file key and the host to contact for what the user typed:
 * `quay.io`, `localhost:5000/team` (a namespace), or docker's
 * `https://index.docker.io/v1/` (whose path is an API version, not a namespace).
 */
export function registryKey(input: string): { key: string; host: string } {
  const hadScheme = /^https?:\/\//.test(input);
  const text = input.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  const slash = text.indexOf('/');
  let host = slash === -1 ? text : text.slice(0, slash);
  if (host === 'index.docker.io' || host === 'registry-1.docker.io') host = 'docker.io';
  if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(host) && !/^\[[0-9a-fA-F:]+\](:\d+)?$/.test(host)) {
    throw new UsageError(`invalid registry ${JSON.stringify(input)}: expected HOST[:PORT][/NAMESPACE]`);
  }
  const key = hadScheme || slash === -1 ? host : `${host}${text.slice(slash)}`;
  return { key, host };
}

/** Debug tracing on stderr with --log-level debug; nothing else from the client is shown here. */
function debugReporter(stderr: NodeJS.WritableStream) {
  const none = () => {};
  return {
    start: none,
    progress: none,
    finish: none,
    info: none,
    warn: (message: string) => void stderr.write(`WARN[0000] ${message}\n`),
    debug: (message: string) => {
      if (globalOptions.logLevel === 'debug') stderr.write(`DEBU[0000] ${message}\n`);
    },
  };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += b.length;
    if (total > 64 * 1024) throw new UsageError('--password-stdin: more than 64 KiB on standard input');
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Asks a question on the terminal; `hidden` keeps the answer from being echoed. */
async function prompt(context: { stdin: NodeJS.ReadableStream; stderr: NodeJS.WritableStream }, question: string, hidden: boolean): Promise<string> {
  const { createInterface } = await import('node:readline');
  const { Writable } = await import('node:stream');
  let muted = false;
  const output = new Writable({
    write(chunk, _encoding, callback) {
      if (!muted) context.stderr.write(chunk);
      callback();
    },
  });
  const rl = createInterface({ input: context.stdin, output, terminal: true });
  try {
    return await new Promise<string>((resolve, reject) => {
      rl.question(question, (answer) => resolve(answer));
      muted = hidden;
      rl.once('close', () => reject(new UsageError('no answer: standard input closed')));
    });
  } finally {
    rl.close();
    if (hidden) context.stderr.write('\n');
  }
}
