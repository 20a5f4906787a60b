// The status-bar text from `prochemy.status` (pure, unit-tested).

export interface Job { id: string; kind: string; state: string; message: string }
export interface Status {
  jobs: Job[];
  prompt: null | { adopted: string; stale: boolean };
  projectFile?: string | null; // "refined"/"seed": the repository's .prochemy/prompt.toml is used
}

export interface StatusView { text: string; tooltip: string; busy: boolean }

export function statusView(status: Status | undefined, progress: string | undefined, error: string | undefined): StatusView {
  if (error) {
    return { text: "$(error) Prochemy", tooltip: `Prochemy: ${error}`, busy: false };
  }
  const running = (status?.jobs ?? []).filter((j) => j.state === "running");
  if (running.length > 0) {
    const step = progress?.match(/iteration (\d+)\/(\d+)/);
    const label = step ? `refining ${step[1]}/${step[2]}` : running[0].kind === "generate" ? "generating" : "refining";
    return { text: `$(sync~spin) Prochemy: ${label}`, tooltip: progress ?? running[0].id, busy: true };
  }
  if (status?.prompt?.stale) {
    return { text: "$(warning) Prochemy: prompt stale", tooltip: "The tests changed since the prompt was refined", busy: false };
  }
  // the final state in the text itself, as Neovim's status-line component has it
  if (status?.projectFile) {
    return {
      text: `$(beaker) Prochemy: ${status.projectFile} (project file)`,
      tooltip: "Using the prompt of the repository's .prochemy/prompt.toml",
      busy: false,
    };
  }
  if (status?.prompt) {
    return { text: `$(beaker) Prochemy: ${status.prompt.adopted}`, tooltip: `Using the ${status.prompt.adopted} prompt`, busy: false };
  }
  return { text: "$(beaker) Prochemy: no prompt yet", tooltip: "No refined prompt yet: run \"Prochemy: Refine prompt for this repo\"", busy: false };
}
