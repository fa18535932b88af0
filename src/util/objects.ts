/** The object without its undefined-valued keys, so `{ ...DEFAULTS, ...opts }` keeps defaults for unset options. */
export function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
