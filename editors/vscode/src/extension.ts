// The VS Code side of nnc: starts `nnc lsp` for .nn files and leaves everything else
// (diagnostics, hover, completion, inlay hints, formatting, quick fixes, semantic tokens) to
// the language server. Bundled with vscode-languageclient into dist/extension.js by package.ts.
import { existsSync } from "node:fs";
import { join } from "node:path";
import * as vscode from "vscode";
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from "vscode-languageclient/node";

let client: LanguageClient | undefined;

/** The `nnc` command: the setting, else the workspace's own install, else `nnc` on the PATH. */
function nncCommand(): string {
  const configured = vscode.workspace.getConfiguration("nnc").get<string>("path", "").trim();
  if (configured) return configured;
  const bin = process.platform === "win32" ? "nnc.cmd" : "nnc";
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const local = join(folder.uri.fsPath, "node_modules", ".bin", bin);
    if (existsSync(local)) return local;
  }
  return bin;
}

function start(): Promise<void> {
  const config = vscode.workspace.getConfiguration("nnc");
  const command = nncCommand();
  const server: ServerOptions = { command, args: ["lsp"], transport: TransportKind.stdio, options: { shell: process.platform === "win32" } };
  const options: LanguageClientOptions = {
    documentSelector: [{ language: "nn" }],
    // Changes to the `nnc.*` settings reach the server as workspace/didChangeConfiguration.
    synchronize: { configurationSection: "nnc" },
    initializationOptions: { inlayHints: { shapes: config.get<boolean>("inlayHints.shapes", true) } },
  };
  client = new LanguageClient("nnc", "nnc", server, options);
  return client.start().catch((err: unknown) => {
    void vscode.window.showErrorMessage(
      `nnc: could not start the language server with \`${command} lsp\` (${err instanceof Error ? err.message : String(err)}). Install nnc or set "nnc.path".`,
    );
  });
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  context.subscriptions.push(
    vscode.commands.registerCommand("nnc.restartServer", async () => {
      await client?.stop();
      await start();
    }),
  );
  await start();
}

export function deactivate(): Promise<void> | undefined {
  return client?.stop();
}
