// Pure helpers (no `vscode` import) so they can be unit-tested with node:test.

/** The `prochemy` configuration object as VS Code gives it (nested by dots). */
export type RawSettings = { [key: string]: unknown };

/** Drop unset values (null, "", empty objects) and the client-only `server` section: the
 * rest is the server's configuration model, sent as initializationOptions and on change. */
export function toServerSettings(raw: RawSettings): RawSettings {
  const out: RawSettings = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key === "server" || value === null || value === undefined || value === "") continue;
    if (typeof value === "object" && !Array.isArray(value)) {
      const nested = toServerSettings(value as RawSettings);
      if (Object.keys(nested).length > 0) out[key] = nested;
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** How to start the server: an explicit command wins, else `<python> -m prochemy.server.main`. */
export function serverCommand(command: string[] | undefined, python: string | undefined): { command: string; args: string[] } {
  if (command && command.length > 0) {
    return { command: command[0], args: command.slice(1) };
  }
  return { command: python || "python3", args: ["-m", "prochemy.server.main"] };
}
