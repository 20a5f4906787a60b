// Smoke test: start the real server from Node over stdio with vscode-jsonrpc, as the
// extension's client library does; initialize, run prochemy.status and a malformed
// command, shut down. Usage: node tools/smoke.mjs <command> [args...]
import { spawn } from "node:child_process";
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from "vscode-jsonrpc/node";

const [cmd, ...args] = process.argv.slice(2);
const server = spawn(cmd, args, { stdio: ["pipe", "pipe", "inherit"] });
const connection = createMessageConnection(new StreamMessageReader(server.stdout), new StreamMessageWriter(server.stdin));
connection.onRequest("client/registerCapability", () => null);
connection.onRequest("workspace/configuration", (p) => p.items.map(() => ({})));
connection.onNotification("window/logMessage", () => {});
connection.listen();
const root = process.cwd();
const init = await connection.sendRequest("initialize", {
  processId: process.pid, rootUri: `file://${root}`, capabilities: { window: { workDoneProgress: true } },
  workspaceFolders: [{ uri: `file://${root}`, name: "root" }], initializationOptions: {},
});
connection.sendNotification("initialized", {});
const commands = init.capabilities.executeCommandProvider.commands;
const status = await connection.sendRequest("workspace/executeCommand", { command: "prochemy.status", arguments: [] });
let malformed = "no error";
try {
  await connection.sendRequest("workspace/executeCommand", { command: "prochemy.generate", arguments: [42] });
} catch (e) {
  malformed = `error ${e.code}`;
}
await connection.sendRequest("shutdown");
connection.sendNotification("exit");
const code = await new Promise((resolve) => server.on("exit", resolve));
console.log(JSON.stringify({ commands, codeActionProvider: init.capabilities.codeActionProvider,
  inline: init.capabilities.inlineCompletionProvider, jobs: status.jobs, malformed, exit: code }));
process.exit(0);
