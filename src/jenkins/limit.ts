/**
 * How many requests one Jenkins controller gets from this process at once. Every client of a controller (one per
 * managed key and target: a fleet has many for the same controller) shares one gate, found by the controller's URL,
 * so a scan or an emergency that touches many keys never sends a controller more than `max` requests at a time.
 */
export class ConcurrencyGate {
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  /** The most requests in flight at once so far (for tests and the bench). */
  peak = 0;

  constructor(public max: number) {
    checkMax(max);
  }

  get active(): number {
    return this.#active;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#active >= this.max) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active++;
    this.peak = Math.max(this.peak, this.#active);
    try {
      return await fn();
    } finally {
      // Hand the slot straight to the next waiter (it counts as active already), or free it.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }
}

function checkMax(max: number): void {
  if (!Number.isInteger(max) || max < 1)
    throw new RangeError(`the Jenkins concurrency limit must be a whole number of at least 1, got ${max}`);
}

const gates = new Map<string, ConcurrencyGate>();

/** `https://CI.example.com:443/jenkins/` and `https://ci.example.com/jenkins` are one controller. */
export function controllerKey(baseUrl: string): string {
  const u = new URL(baseUrl);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

/** The process-wide gate of the controller at `baseUrl`, whose limit becomes `max`. */
export function controllerGate(baseUrl: string, max: number): ConcurrencyGate {
  const key = controllerKey(baseUrl);
  let gate = gates.get(key);
  if (!gate) gates.set(key, (gate = new ConcurrencyGate(max)));
  else {
    checkMax(max);
    gate.max = max;
  }
  return gate;
}
