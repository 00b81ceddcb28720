import picocolors from 'picocolors';

/** The styles the CLI uses; each is the identity when colour is off. */
export type Colors = Pick<
  ReturnType<typeof picocolors.createColors>,
  'bold' | 'dim' | 'red' | 'green' | 'yellow'
>;

/** No colour: what tests, pipes and NO_COLOR get. */
export const PLAIN: Colors = picocolors.createColors(false);

/**
 * Whether to colour a stream: never when NO_COLOR is set to anything but the empty string (no-color.org), then
 * FORCE_COLOR (set and not "0" or "false": on; "0" or "false": off, even on a terminal), otherwise only on a terminal
 * whose TERM is not "dumb". Pipes and files get plain text, so output stays greppable and CSV stays CSV.
 */
export function colorEnabled(isTTY: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  if ((env['NO_COLOR'] ?? '') !== '') return false;
  const force = env['FORCE_COLOR'];
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  return isTTY === true && env['TERM'] !== 'dumb';
}

export const colorsFor = (isTTY: boolean | undefined, env: NodeJS.ProcessEnv): Colors =>
  colorEnabled(isTTY, env) ? picocolors.createColors(true) : PLAIN;

/**
 * The one-line prefixes of stderr (`key-rotator: error:`, `key-rotator: warning:`) in red and yellow. Lines are
 * written whole, so the prefix is at the start of a write or after a newline.
 */
export function paintMessages(text: string, c: Colors): string {
  if (c === PLAIN) return text;
  return text
    .replace(/^key-rotator: error:/gm, (m) => c.bold(c.red(m)))
    .replace(/^key-rotator: warning:/gm, (m) => c.yellow(m));
}
