// Unit tests of the extension's pure parts (node --test, on the compiled output).
const test = require("node:test");
const assert = require("node:assert");
const { toServerSettings, serverCommand } = require("../out/settings.js");
const { statusView } = require("../out/status.js");

test("unset values and the client-only server section are dropped", () => {
  const raw = { server: { python: "/x/python" }, endpoint: { base_url: null, model: "", api_key_env: "K" },
                editor: { background_refine: true, debounce_s: null }, sandbox: { level: null } };
  assert.deepStrictEqual(toServerSettings(raw), { endpoint: { api_key_env: "K" }, editor: { background_refine: true } });
});

test("an explicit server command wins over the interpreter", () => {
  assert.deepStrictEqual(serverCommand(["/v/bin/prochemy-lsp", "--log-file", "l"], "py"),
                         { command: "/v/bin/prochemy-lsp", args: ["--log-file", "l"] });
  assert.deepStrictEqual(serverCommand([], "/v/bin/python"),
                         { command: "/v/bin/python", args: ["-m", "prochemy.server.main"] });
});

test("status bar: idle, refining k/N, stale, error", () => {
  assert.match(statusView({ jobs: [], prompt: null }, undefined, undefined).tooltip, /No refined prompt yet/);
  const busy = statusView({ jobs: [{ id: "refine-1", kind: "refine", state: "running", message: "" }], prompt: null },
                          "iteration 3/10 evaluating · best 80%", undefined);
  assert.strictEqual(busy.text, "$(sync~spin) Prochemy: refining 3/10");
  assert.match(statusView({ jobs: [], prompt: { adopted: "refined", stale: true } }, undefined, undefined).text, /stale/);
  assert.strictEqual(statusView(undefined, undefined, "boom").text, "$(error) Prochemy");
  assert.strictEqual(statusView({ jobs: [], prompt: null }, undefined, undefined).text, "$(beaker) Prochemy: no prompt yet");
  assert.strictEqual(statusView({ jobs: [], prompt: { adopted: "seed", stale: false } }, undefined, undefined).text,
                     "$(beaker) Prochemy: seed");
  assert.strictEqual(statusView({ jobs: [], prompt: null, projectFile: "refined" }, undefined, undefined).text,
                     "$(beaker) Prochemy: refined (project file)");
});
