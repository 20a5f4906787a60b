import * as vscode from "vscode";
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from "vscode-languageclient/node";
import { serverCommand, toServerSettings, RawSettings } from "./settings";
import { Status, statusView } from "./status";

let client: LanguageClient | undefined;
let statusItem: vscode.StatusBarItem;
let lastProgress: string | undefined;
let lastError: string | undefined;

function settings(): RawSettings {
  return toServerSettings(JSON.parse(JSON.stringify(vscode.workspace.getConfiguration("prochemy"))));
}

async function execute(command: string, ...args: unknown[]): Promise<any> {
  if (!client) {
    vscode.window.showWarningMessage("Prochemy: the language server is not running");
    return undefined;
  }
  try {
    lastError = undefined;
    return await client.sendRequest("workspace/executeCommand", { command, arguments: args });
  } catch (e: any) {
    lastError = e?.message ?? String(e);
    vscode.window.showErrorMessage(`Prochemy: ${lastError}`);
    return undefined;
  } finally {
    void refreshStatus();
  }
}

function rootArg(): { root?: string } {
  const uri = vscode.window.activeTextEditor?.document.uri;
  const folder = (uri && vscode.workspace.getWorkspaceFolder(uri)) ?? vscode.workspace.workspaceFolders?.[0];
  return folder ? { root: folder.uri.fsPath } : {};
}

async function refreshStatus(): Promise<void> {
  const status: Status | undefined = client ? await client.sendRequest("workspace/executeCommand",
    { command: "prochemy.status", arguments: [rootArg()] }).then((s: unknown) => s as Status, () => undefined) : undefined;
  const view = statusView(status, lastProgress, lastError);
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
  statusItem.show();
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const config = vscode.workspace.getConfiguration("prochemy");
  const { command, args } = serverCommand(config.get<string[]>("server.command"), config.get<string>("server.python"));
  const serverOptions: ServerOptions = { command, args, transport: TransportKind.stdio };
  const clientOptions: LanguageClientOptions = {
    // Java: only to translate it (the server offers "Translate file to Python" there)
    documentSelector: [{ scheme: "file", language: "python" }, { scheme: "file", language: "java" }],
    initializationOptions: settings(),
    synchronize: { configurationSection: "prochemy" },
  };
  client = new LanguageClient("prochemy", "Prochemy", serverOptions, clientOptions);
  statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
  statusItem.command = "prochemy.showPromptForRepo";
  context.subscriptions.push(statusItem);

  const register = (name: string, run: () => unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(name, run));
  register("prochemy.refinePromptForRepo", async () => {
    const result = await execute("prochemy.refinePrompt", rootArg());
    if (result?.jobId) vscode.window.showInformationMessage(`Prochemy: refining (${result.jobId})`);
  });
  register("prochemy.generateHere", async () => {
    const editor = vscode.window.activeTextEditor;
    if (!editor) return;
    const position = { uri: editor.document.uri.toString(), line: editor.selection.active.line };
    const result = await execute("prochemy.generate", position);
    // only a verified pass changes the buffer; the best failing version only when asked
    if (result?.applied === false && result?.passed === false) {
      const keep = "Apply the best failing version";
      const choice = await vscode.window.showWarningMessage(
        `Prochemy: none of ${result.candidates} candidates passed the related tests of ${result.qualname}.`,
        keep,
      );
      if (choice === keep) await execute("prochemy.generate", { ...position, applyFailing: true });
    }
  });
  register("prochemy.showPromptForRepo", () => execute("prochemy.showPrompt", rootArg()));
  register("prochemy.cancelJobs", () => execute("prochemy.cancel"));
  register("prochemy.clearCaches", () => execute("prochemy.clearCache", rootArg()));
  register("prochemy.doctorReport", async () => {
    const result = await execute("prochemy.doctor", rootArg());
    if (result?.text) {
      const doc = await vscode.workspace.openTextDocument({ content: result.text, language: "text" });
      await vscode.window.showTextDocument(doc);
    }
  });

  await client.start();
  client.onNotification("$/progress", (p: any) => {
    if (p?.value?.message) lastProgress = p.value.message;
  });
  const timer = setInterval(() => void refreshStatus(), 3000);
  context.subscriptions.push({ dispose: () => clearInterval(timer) });
  await refreshStatus();
}

export async function deactivate(): Promise<void> {
  if (client) await client.stop();
}
