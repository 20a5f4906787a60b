"""A refinement run's trajectory and held-out comparison as a PNG (matplotlib is the
`bench` extra; without it there is no plot, and nothing else changes)."""

from __future__ import annotations

from pathlib import Path

from .refine import RefineResult, best_so_far


def plot(result: RefineResult, path: Path) -> Path | None:
    """The trajectory as a PNG; None without matplotlib (the benchmark extra)."""
    try:
        import matplotlib
    except ImportError:
        return None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 1]})
    ks = [it.k for it in result.iterations]
    left.plot(ks, [100 * it.best_plain for it in result.iterations], marker="o", label="best (selected)")
    left.step(
        ks,
        [100 * v for v in best_so_far([it.best_plain for it in result.iterations])],
        where="post",
        linestyle="--",
        label="best so far",
    )
    left.plot(
        ks, [100 * sum(it.plain) / len(it.plain) for it in result.iterations], marker="s", label="pool mean"
    )
    left.set_xlabel("iteration")
    left.set_ylabel("training pass@1 (%)")
    left.set_title("refinement trajectory")
    left.legend()
    c = result.held_out_comparison
    if c is not None:
        values = [100 * c.seed_passed / c.tasks, 100 * c.best_passed / c.tasks]
        right.bar(["seed", "P*"], values, color=["grey", "tab:blue"])
        for x, v in enumerate(values):
            right.text(x, v, f"{v:.1f}", ha="center", va="bottom")
        right.set_title(f"held-out pass@1 ({c.tasks} tasks)")
    else:
        right.set_axis_off()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
