import { describe, expect, it } from 'vitest';
import { parseCommandLine, type ParsedArgs } from '../../src/cli/args';
import { UsageError } from '../../src/cli/errors';
import { COMMAND_OPTIONS, COMMANDS, GLOBAL_OPTIONS } from '../../src/cli/args';
import { commandHelp, GLOBAL_POINTER, mainHelp } from '../../src/cli/help';
import { editDistance, nearest } from '../../src/cli/suggest';

const run = (...argv: string[]) => {
  const p = parseCommandLine(argv);
  if (p.kind !== 'run') throw new Error(`expected a command, got ${p.kind}`);
  return p;
};
/** The whole usage error line. */
const usageLine = (...argv: string[]): string => {
  try {
    parseCommandLine(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`no usage error for ${argv.join(' ')}`);
};
/** The usage error without the pointer to the help every one ends with (tested below). */
const usage = (...argv: string[]): string => {
  const line = usageLine(...argv);
  expect(line).toMatch(/--help\)?$/);
  return line.replace(/ \(see key-rotator( [\w-]+)? --help\)$/, '');
};

describe('parseCommandLine', () => {
  it('parses each command with its options', () => {
    const audit = { command: 'audit', format: 'table', credentialReport: false, failOnStale: false };
    expect(run('audit').args).toEqual({ ...audit, includeUnmanaged: false });
    expect(run('audit', '--json', '--credential-report').args).toEqual({
      ...audit,
      format: 'json',
      credentialReport: true,
      includeUnmanaged: false,
    });
    expect(run('audit', '--format', 'csv', '--fail-on-stale', '--include-unmanaged').args).toEqual({
      ...audit,
      format: 'csv',
      failOnStale: true,
      includeUnmanaged: true,
    });
    expect(run('audit', '--format=json', '--json').args).toMatchObject({ format: 'json' });
    expect(
      run('plan', '--rotation-lambda-arn', 'arn:aws:lambda:us-east-1:111122223333:function:r').args,
    ).toEqual({
      command: 'plan',
      json: false,
      credentialReport: false,
      rotationLambdaArn: 'arn:aws:lambda:us-east-1:111122223333:function:r',
    });
    expect(run('rotate', 'jenkins-prod').args).toEqual({
      command: 'rotate',
      target: 'jenkins-prod',
      json: false,
      emergency: false,
      force: false,
      deleteOld: false,
      yes: false,
    });
    expect(run('rotate', 'jenkins-prod', '--yes').args).toMatchObject({ yes: true });
    expect(run('rotate', 'jenkins-prod', '-y').args).toMatchObject({ yes: true });
    expect(run('rotate', 'jenkins-prod', '--resume').args).toMatchObject({
      recovery: 'resume',
      force: false,
    });
    expect(run('rotate', '--abandon', 'jenkins-prod', '--force', '--json').args).toMatchObject({
      recovery: 'abandon',
      force: true,
      json: true,
    });
    expect(run('rotate', 'jenkins-prod', '--resume', '--force', '--yes').args).toMatchObject({
      recovery: 'resume',
      force: true,
      yes: true,
    });
    expect(
      run('rotate', '--emergency', 'jenkins-prod', '--delete-old', '--reason', 'leaked in a log', '--json')
        .args,
    ).toEqual({
      command: 'rotate',
      target: 'jenkins-prod',
      json: true,
      emergency: true,
      force: false,
      deleteOld: true,
      yes: false,
      reason: 'leaked in a log',
    });
    expect(run('rotate', 'AKIAABCDEFGHIJKLMNOP', '--emergency').args).toMatchObject({
      target: 'AKIAABCDEFGHIJKLMNOP',
    });
    const validate = { command: 'validate-config', json: false, params: [], checkIam: false };
    expect(run('validate-config').args).toEqual(validate);
    expect(run('validate-config', 'ci.json', '--json').args).toEqual({
      ...validate,
      json: true,
      file: 'ci.json',
    });
    expect(
      run(
        'validate-config',
        '--stage',
        'prod',
        '--param',
        'secretPrefix=ci/keys/',
        '--param=userPath=/a=b/',
        '--check-iam',
      ).args,
    ).toEqual({
      ...validate,
      stage: 'prod',
      params: ['secretPrefix=ci/keys/', 'userPath=/a=b/'],
      checkIam: true,
    });
    expect(run('validate-config', '--param', 'userPath=/ci/', '--check-iam').args).toMatchObject({
      checkIam: true,
    });
  });

  it('takes global options before or after the command', () => {
    const before = run('--config', 'a.json', '--region', 'eu-west-1', '-v', 'audit');
    const after = run('audit', '-c', 'a.json', '--region=eu-west-1', '--verbose');
    for (const p of [before, after])
      expect(p.global).toEqual({ config: 'a.json', region: 'eu-west-1', verbose: true });
    expect(run('plan', '--endpoint', 'http://127.0.0.1:4566/', '--sandbox', '-').global).toEqual({
      endpoint: 'http://127.0.0.1:4566',
      sandbox: '-',
      verbose: false,
    });
  });

  it('help and version', () => {
    const kinds = (p: ParsedArgs) => (p.kind === 'help' ? `help:${p.command ?? ''}` : p.kind);
    expect(kinds(parseCommandLine(['--help']))).toBe('help:');
    expect(kinds(parseCommandLine(['-h']))).toBe('help:');
    expect(kinds(parseCommandLine(['help']))).toBe('help:');
    expect(kinds(parseCommandLine(['help', 'rotate']))).toBe('help:rotate');
    expect(kinds(parseCommandLine(['rotate', '--help']))).toBe('help:rotate');
    // --help wins over a missing argument or a foreign option: the user is asking how to call it.
    expect(kinds(parseCommandLine(['audit', '--emergency', '--help']))).toBe('help:audit');
    expect(kinds(parseCommandLine(['--version']))).toBe('version');
    expect(kinds(parseCommandLine(['-V']))).toBe('version');
  });

  it('usage errors say what is wrong', () => {
    expect(usage()).toMatch(
      /no command given \(commands: audit, check, doctor, keyless, plan, report, rotate, self-rotate, validate-config\)/,
    );
    expect(usage('audits')).toMatch(/unknown command "audits"/);
    expect(usage('help', 'nope')).toMatch(/unknown command "nope"/);
    expect(usage('audit', '--jsn')).toBe('unknown option --jsn for audit: did you mean --json?');
    expect(usage('audit', '-x')).toBe('unknown option -x for audit');
    expect(usage('audit', '--emergency')).toMatch(/--emergency is not an option of audit/);
    expect(usage('plan', '--reason', 'x')).toMatch(/--reason is not an option of plan/);
    expect(usage('validate-config', '--credential-report')).toMatch(/not an option of validate-config/);
    expect(usage('audit', 'extra')).toMatch(/unexpected argument "extra" for audit/);
    expect(usage('rotate')).toMatch(/rotate needs the IAM user/);
    expect(usage('rotate', 'a', 'b')).toMatch(/unexpected argument "b"/);
    expect(usage('validate-config', 'a.json', 'b.json')).toMatch(/unexpected argument "b.json"/);
    expect(usage('rotate', 'jenkins-prod', '--reason', 'x')).toMatch(/--reason goes with --emergency/);
    expect(usage('rotate', 'AKIAABCDEFGHIJKLMNOP')).toMatch(/access key id.*--emergency/);
    expect(usage('rotate', 'jenkins-prod', '--resume', '--abandon')).toMatch(
      /--resume and --abandon exclude each other/,
    );
    expect(usage('rotate', 'jenkins-prod', '--emergency', '--resume')).toMatch(
      /--resume does not go with --emergency/,
    );
    expect(usage('rotate', 'jenkins-prod', '--abandon', '--emergency')).toMatch(
      /--abandon does not go with --emergency/,
    );
    expect(usage('rotate', 'jenkins-prod', '--force')).toMatch(/--force goes with --resume or --abandon/);
    expect(usage('rotate', 'jenkins-prod', '--abandon', '--yes')).toMatch(/--yes goes with a rotation/);
    expect(usage('rotate', 'jenkins-prod', '--abandon', '--delete-old')).toMatch(
      /--delete-old goes with a rotation/,
    );
    expect(usage('rotate', 'AKIAABCDEFGHIJKLMNOP', '--abandon')).toMatch(/access key id/);
    expect(usage('audit', '--resume')).toMatch(/--resume is not an option of audit/);
    expect(usage('audit', '--config')).toBe('option --config needs a value');
    expect(usage('audit', '--config', '')).toBe('option --config needs a value');
    expect(usage('audit', '--json=yes')).toBe('option --json takes no value');
    expect(usage('audit', '--endpoint', 'localhost:4566')).toMatch(/--endpoint must be an http\(s\) URL/);
    expect(usage('plan', '--rotation-lambda-arn', 'my-function')).toMatch(/Lambda function ARN/);
    expect(usage('validate-config', '--param', 'userPath')).toBe(
      'option --param needs name=value (got "userPath")',
    );
    expect(usage('validate-config', '--param', 'userPath=')).toMatch(/needs name=value/);
    expect(usage('validate-config', '--param', 'userpath=/x/')).toMatch(
      /^option --param: unknown parameter "userpath" \(parameters: userPath, secretPrefix, /,
    );
    expect(usage('validate-config', '--stage', 'prod/eu')).toMatch(/--stage must be a stage name/);
    expect(usage('validate-config', '--check-iam')).toMatch(
      /--check-iam compares .* give --stage NAME or --param userPath=\/path\//,
    );
    expect(usage('audit', '--stage', 'prod')).toMatch(/--stage is not an option of audit/);
    expect(usage('audit', '--format', 'xml')).toBe('option --format must be table, json, csv (got "xml")');
    expect(usage('audit', '--format', 'csv', '--json')).toMatch(/--json and --format csv contradict/);
    expect(usage('audit', '--include-unmanaged')).toMatch(/--include-unmanaged goes with --fail-on-stale/);
    expect(usage('plan', '--fail-on-stale')).toMatch(/--fail-on-stale is not an option of plan/);
  });
});

describe('parseCommandLine: doctor', () => {
  it('takes --key and --json, nothing else', () => {
    expect(run('doctor').args).toEqual({ command: 'doctor', json: false });
    expect(run('doctor', '--key', 'prod-ecr-push', '--json').args).toEqual({
      command: 'doctor',
      json: true,
      key: 'prod-ecr-push',
    });
    expect(usage('doctor', '--key')).toBe('option --key needs a value');
    expect(usage('doctor', '--key', ' ')).toBe('option --key needs a value');
    expect(usage('doctor', 'jenkins-prod')).toMatch(/^unexpected argument "jenkins-prod" for doctor/);
    expect(usage('doctor', '--emergency')).toMatch(/^option --emergency is not an option of doctor/);
    expect(usage('audit', '--key', 'x')).toMatch(/^option --key is not an option of audit/);
  });

  it('has its own help', () => {
    expect(commandHelp('doctor')).toMatch(/^Usage: key-rotator doctor \[--key NAME\] \[--json\]/);
    expect(commandHelp('doctor')).toContain('{"action":"doctor"}');
    expect(mainHelp('1.0.0')).toMatch(/\n {2}doctor {18}can each Jenkins target be reached from here/);
  });
});

describe('self-rotate arguments', () => {
  it('parses the key, --force, --take-over and --print-policy with its options', () => {
    expect(parseCommandLine(['self-rotate', 'edge', '--force', '--take-over', '--json'])).toMatchObject({
      kind: 'run',
      args: {
        command: 'self-rotate',
        target: 'edge',
        force: true,
        takeOver: true,
        json: true,
        printPolicy: false,
      },
    });
    expect(
      parseCommandLine([
        'self-rotate',
        'edge',
        '--print-policy',
        '--user-path',
        '/ci/',
        '--account-id',
        '111122223333',
      ]),
    ).toMatchObject({ args: { printPolicy: true, userPath: '/ci/', accountId: '111122223333' } });
  });

  it('says what is wrong', () => {
    expect(() => parseCommandLine(['self-rotate'])).toThrow(/self-rotate needs the managed key/);
    expect(() => parseCommandLine(['self-rotate', 'edge', '--user-path', '/ci/'])).toThrow(
      /--user-path goes with --print-policy/,
    );
    expect(() => parseCommandLine(['self-rotate', 'edge', '--print-policy', '--user-path', 'ci'])).toThrow(
      /must be an IAM path/,
    );
    expect(() => parseCommandLine(['self-rotate', 'edge', '--print-policy', '--account-id', '12'])).toThrow(
      /12-digit/,
    );
  });
});

describe('check arguments', () => {
  it('parses --fail-on, --emit-policy and --key', () => {
    expect(
      parseCommandLine(['check', '--fail-on', 'medium', '--emit-policy', 'out', '--key', 'prod', '--json']),
    ).toMatchObject({
      args: { command: 'check', failOn: 'medium', emitPolicy: 'out', key: 'prod', json: true },
    });
  });
  it('refuses a level it does not know', () => {
    expect(() => parseCommandLine(['check', '--fail-on', 'critical'])).toThrow(
      /--fail-on must be high, medium or low/,
    );
  });
});

describe('report arguments', () => {
  it('parses --html FILE, --json, --no-checks and --credential-report', () => {
    expect(run('report', '--html', 'out/keys.html').args).toEqual({
      command: 'report',
      json: false,
      html: 'out/keys.html',
      checks: true,
      credentialReport: false,
    });
    expect(run('report', '--json', '--no-checks', '--credential-report').args).toEqual({
      command: 'report',
      json: true,
      checks: false,
      credentialReport: true,
    });
  });

  it('needs --html or --json, and says what is wrong', () => {
    expect(usage('report')).toMatch(/^report needs --html FILE \(the HTML page\) or --json/);
    expect(usage('report', '--html')).toBe('option --html needs a value');
    expect(usage('report', '--html', ' ')).toBe('option --html needs a value');
    expect(usage('report', '--json', 'extra')).toMatch(/^unexpected argument "extra" for report/);
    expect(usage('report', '--json', '--key', 'x')).toMatch(/^option --key is not an option of report/);
    expect(usage('audit', '--html', 'x')).toMatch(/^option --html is not an option of audit/);
  });

  it('has its own help, and a line in the main help', () => {
    expect(commandHelp('report')).toMatch(
      /^Usage: key-rotator report --html FILE \[--json\] \[--no-checks\]/,
    );
    expect(mainHelp('1.0.0')).toMatch(/\n {2}report --html FILE {6}the key report as one HTML page/);
  });
});

describe('help for every command (a command added without help, options or examples fails here)', () => {
  const globalLines = ['--endpoint URL', '--sandbox FILE', '-V, --version', 'Exit codes:'];
  for (const command of COMMANDS) {
    it(`${command}: its usage, each of its options, examples, and one line pointing to the global options`, () => {
      const help = commandHelp(command);
      expect(help.startsWith(`Usage: key-rotator ${command}`)).toBe(true);
      for (const option of Object.keys(COMMAND_OPTIONS[command]))
        expect(help, `--${option} in ${command}'s help`).toContain(`--${option}`);
      const examples = help.split('\nExamples:\n')[1]?.split('\n\n')[0]?.split('\n') ?? [];
      expect(examples.length).toBeGreaterThan(0);
      for (const e of examples)
        expect(e).toMatch(new RegExp(`^ {2}key-rotator (--sandbox \\S+ )?${command}\\b`));
      expect(help.endsWith(`\n\n${GLOBAL_POINTER}`)).toBe(true);
      // The global options are not repeated: only the pointer names them.
      for (const g of globalLines) expect(help).not.toContain(g);
      // Each of its options mistyped (last letter doubled) is one usage line suggesting that option.
      for (const option of Object.keys(COMMAND_OPTIONS[command]))
        expect(usageLine(command, `--${option}${option.slice(-1)}`)).toBe(
          `unknown option --${option}${option.slice(-1)} for ${command}: did you mean --${option}? (see key-rotator ${command} --help)`,
        );
      // Reached as `help <command>`, `<command> --help` and `<command> -h`.
      for (const argv of [
        ['help', command],
        [command, '--help'],
        [command, '-h'],
      ])
        expect(parseCommandLine(argv)).toMatchObject({ kind: 'help', command });
    });
  }

  it('the main help lists every command and the global options', () => {
    const help = mainHelp('1.0.0');
    for (const command of COMMANDS) expect(help).toMatch(new RegExp(`\\n {2}${command}\\b`));
    for (const option of Object.keys(GLOBAL_OPTIONS)) expect(help).toContain(`--${option}`);
  });
});

describe('mistakes suggest the nearest command or option, in one line that points to the help', () => {
  it('suggests by edit distance, or the one option a prefix starts', () => {
    expect(editDistance('audit', 'audti')).toBe(2);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(nearest('--fial-on-stale', ['--fail-on-stale', '--format'])).toBe('--fail-on-stale');
    expect(nearest('--fail', ['--fail-on-stale', '--format'])).toBe('--fail-on-stale');
    expect(nearest('--zzzzzz', ['--json', '--format'])).toBeUndefined();
  });

  it('unknown commands and options, and options of another command', () => {
    expect(usageLine('audti')).toBe(
      'unknown command "audti": did you mean audit? (commands: audit, check, doctor, keyless, plan, report, rotate, self-rotate, validate-config; see key-rotator --help)',
    );
    expect(usageLine('frobnicate')).toMatch(/^unknown command "frobnicate" \(commands: /);
    expect(usageLine('audit', '--fail-on-stal')).toBe(
      'unknown option --fail-on-stal for audit: did you mean --fail-on-stale? (see key-rotator audit --help)',
    );
    expect(usageLine('rotate', 'jenkins-prod', '--emergncy')).toBe(
      'unknown option --emergncy for rotate: did you mean --emergency? (see key-rotator rotate --help)',
    );
    expect(usageLine('--regoin', 'eu-west-1', 'audit')).toMatch(
      /^unknown option --regoin for audit: did you mean --region\?/,
    );
    expect(usageLine('check', '--fail-on-stale')).toBe(
      'option --fail-on-stale is not an option of check: did you mean --fail-on? (see key-rotator check --help)',
    );
    expect(usageLine('audit', '--format', 'xml')).toBe(
      'option --format must be table, json, csv (got "xml") (see key-rotator audit --help)',
    );
    expect(usageLine('--bogus')).toBe('unknown option --bogus (see key-rotator --help)');
  });
});
