"""The benchmark's Markdown: tables built from plain results, no I/O."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tools.recsys import methods as M
from tools.recsys.evaluation import COLD, HISTORY, METRICS, NEW, paired_bootstrap, summary
from tools.recsys.index import VectorIndex
from tools.recsys.recommender import Recommender, RecsysConfig

SEGMENT_TITLES = {
    HISTORY: "Users with history (3 or more distinct items bought before the cut-off)",
    COLD: "Cold users: 1 or 2 known items (new customers with the first 2 items of their first order revealed, and customers with 1 or 2 items before the cut-off)",
    NEW: "New customers, nothing known",
}
BUCKETS = ((3, 20), (20, 50), (50, 100), (100, 200), (200, 10**9))


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _ci(a: np.ndarray, b: np.ndarray) -> str:
    difference = paired_bootstrap(a, b)
    mark = "" if difference.excludes_zero() else " (n.s.)"
    return f"{difference.mean:+.4f} [{difference.low:+.4f}, {difference.high:+.4f}]{mark}"


@dataclass
class Report:
    date: str
    commit: str
    machine: str
    command: str
    cleaning: str = ""
    notes: list[str] = field(default_factory=list)
    timings: list[tuple[str, float]] = field(default_factory=list)
    sections: dict[str, list[str]] = field(default_factory=dict)
    latency: list[list[object]] = field(default_factory=list)

    def timing(self, what: str, seconds: float) -> None:
        self.timings.append((what, seconds))

    # --- validation ---------------------------------------------------------------------

    def validation_popularity(self, windows: dict[int, float], chosen: int) -> None:
        rows = [[f"last {days} days", f"{recall:.4f}", "chosen" if days == chosen else ""] for days, recall in windows.items()]
        self.sections["validation popularity"] = [
            "Popularity baseline: its window (distinct buyers in the last N days of training) chosen on validation, users with history:", "",
            *_table(["window", "recall@50", ""], rows),
        ]

    def validation_interests(self, sweep: pd.DataFrame, seconds: float) -> None:
        counts = [column for column in sweep.columns if column.startswith("top") or column == "all"]
        rows = [[r["embedding"], r["threshold"], f"{r['median interests']:.0f}", *(f"{r[c]:.4f}" for c in counts)] for _, r in sweep.iterrows()]
        self.sections["validation interests"] = [
            "How many interests to serve (multi-interest alone, recall@50 on validation, users with history; "
            f"Ward threshold is the cut height on unit vectors; {seconds:.0f} s):", "",
            *_table(["embedding", "Ward threshold", "median interests per user", *(f"serve {c}" for c in counts)], rows),
        ]

    def validation_blends(self, served: pd.DataFrame, cold: pd.DataFrame, defaults: RecsysConfig) -> None:
        def rows(frame: pd.DataFrame, top: int) -> list[list[object]]:
            return [[int(r["popularity days"]), *(f"{r[c]:g}" for c in frame.columns[1:-1]), f"{r['recall@50']:.4f}"] for _, r in frame.head(top).iterrows()]

        best, best_cold = served.iloc[0], cold.iloc[0]
        names = ("copurchase", "interests", "average", "cold_start", "popularity")
        chosen = (*(float(best[name]) for name in names), int(best["popularity days"]))
        default = (*(float(getattr(defaults.served, name)) for name in names), defaults.popularity_days)
        chosen_cold = (*(float(best_cold[name]) for name in names), int(best_cold["popularity days"]))
        default_cold = (*(float(getattr(defaults.cold, name)) for name in names), defaults.popularity_days)
        agree = "The served defaults (RecsysConfig) are this choice" if chosen == default and chosen_cold == default_cold else (
            f"WARNING: the served defaults {default} / cold {default_cold} differ from this validation choice {chosen} / cold {chosen_cold} "
            f"(copurchase, interests, average, cold_start, popularity weights, popularity days)"
        )
        self.sections["validation blends"] = [
            "Blend weights (each generator's scores divided by its best score; popularity is a prior on every candidate), "
            f"recall@50 on validation; best 8 of {len(served)} for users with history, of {len(cold)} for cold users. {agree}.", "",
            *_table(list(served.columns), rows(served, 8)),
            *_table(list(cold.columns), rows(cold, 8)),
        ]

    # --- test ---------------------------------------------------------------------------

    def test_tables(self, per_user: pd.DataFrame, kinds: Sequence[str], recent_days: int) -> None:
        label = {M.RECENT: f"popularity (last {recent_days} days)"}
        history_rows = [M.POPULARITY, M.RECENT, M.COPURCHASE, *map(M.averaged, kinds), *map(M.multi, kinds), M.BLEND_CP_POP, M.BLEND_CP_MI_POP, M.SERVED]
        cold_rows = [M.POPULARITY, M.RECENT, M.COPURCHASE, *map(M.averaged, kinds), *map(M.multi, kinds), M.COLD_START, M.SERVED]
        layout = {HISTORY: history_rows, COLD: cold_rows, NEW: [M.POPULARITY, M.RECENT, M.SERVED]}
        lines: list[str] = []
        for segment, rows in layout.items():
            users = per_user[per_user["segment"] == segment]
            if users.empty:
                continue
            table = summary(users, rows)
            lines += [f"**{SEGMENT_TITLES[segment]}: {len(users):,} users**", ""]
            body = []
            for method in rows:
                name = label.get(method, method)
                cells = [f"{table.loc[method, metric]:.4f}" for metric, _, _ in METRICS]
                body.append([f"**{name}**" if method == M.SERVED else name, *([f"**{c}**" for c in cells] if method == M.SERVED else cells)])
            lines += _table(["method", *(metric for metric, _, _ in METRICS)], body)
            baselines = [m for m in rows if m not in (M.SERVED, M.BLEND_CP_POP, M.BLEND_CP_MI_POP)]
            best = max(baselines, key=lambda m: table.loc[m, "recall@50"])
            beaten = all(table.loc[M.SERVED, "recall@50"] > table.loc[m, "recall@50"] for m in baselines)
            verdict = "beats" if beaten else "does NOT beat"
            if segment == NEW:
                lines += [f"With nothing known, the served default is the recent-popularity prior itself: it ties that baseline "
                          f"({table.loc[M.SERVED, 'recall@50']:.4f}) and beats all-time popularity.", ""]
                continue
            lines += [f"Served default {verdict} every baseline row at recall@50 "
                      f"(best baseline: {label.get(best, best)}, {table.loc[best, 'recall@50']:.4f}; served {table.loc[M.SERVED, 'recall@50']:.4f}).", ""]
        self.sections["test"] = lines
        self.sections["bootstrap"] = self._bootstrap(per_user, kinds, label)
        self.sections["buckets"] = self._buckets(per_user[per_user["segment"] == HISTORY], kinds)

    def _bootstrap(self, per_user: pd.DataFrame, kinds: Sequence[str], label: dict[str, str]) -> list[str]:
        pairs: list[tuple[str, str, str, str]] = []
        for baseline in (M.POPULARITY, M.RECENT, M.COPURCHASE, M.averaged("combined"), M.multi("combined"), M.BLEND_CP_POP):
            pairs.append((HISTORY, M.SERVED, baseline, "recall@50"))
        pairs.append((HISTORY, M.SERVED, M.COPURCHASE, "ndcg@10"))
        pairs.append((HISTORY, M.BLEND_CP_MI_POP, M.BLEND_CP_POP, "recall@50"))
        pairs += [(HISTORY, M.multi(kind), M.averaged(kind), "recall@50") for kind in kinds]
        pairs += [(COLD, M.SERVED, baseline, "recall@50") for baseline in (M.RECENT, M.COPURCHASE, M.COLD_START)]
        pairs.append((COLD, M.COLD_START, M.RECENT, "recall@50"))
        pairs.append((NEW, M.SERVED, M.POPULARITY, "recall@50"))
        rows = []
        for segment, a, b, metric in pairs:
            users = per_user[per_user["segment"] == segment]
            if users.empty:
                continue
            rows.append([segment, label.get(a, a), label.get(b, b), metric, _ci(users[f"{a}|{metric}"].to_numpy(), users[f"{b}|{metric}"].to_numpy())])
        return [
            "Paired bootstrap over users (2,000 resamples, seed 0): mean difference A - B with a 95% percentile interval; "
            "(n.s.) where the interval includes zero.", "",
            *_table(["segment", "A", "B", "metric", "A - B [95% CI]"], rows),
        ]

    def _buckets(self, users: pd.DataFrame, kinds: Sequence[str]) -> list[str]:
        rows = []
        better: list[str] = []
        worse: list[str] = []
        for low, high in BUCKETS:
            group = users[(users["n_history"] >= low) & (users["n_history"] < high)]
            if group.empty:
                continue
            span = f"{low}-{high - 1}" if high < 10**9 else f"{low}+"
            cells: list[object] = [span, len(group), f"{group['interests'].median():.0f}"]
            for kind in kinds:
                a, b = group[f"{M.multi(kind)}|recall@50"].to_numpy(), group[f"{M.averaged(kind)}|recall@50"].to_numpy()
                cells.append(f"{b.mean():.3f} / {a.mean():.3f}, {_ci(a, b)}")
                difference = paired_bootstrap(a, b)
                if difference.excludes_zero():
                    (better if difference.mean > 0 else worse).append(f"{kind} ({span} items)")
            cells += [f"{group[f'{m}|recall@50'].mean():.3f}" for m in (M.COPURCHASE, M.SERVED)]
            rows.append(cells)
        return [
            "Where multi-interest helps: users with history by how many distinct items they had bought; "
            "per embedding, recall@50 of one averaged embedding / multi-interest, then multi - averaged [95% CI].", "",
            *_table(["distinct items", "users", "median interests (served embedding)", *kinds, "co-purchase", "served"], rows),
            f"Multi-interest beats one averaged embedding, beyond chance, for: {', '.join(better) or 'no group'}; "
            f"it loses, beyond chance, for: {', '.join(worse) or 'no group'}; elsewhere the two are not distinguishable. "
            "Neither alone comes near co-purchase neighbours or the served blend in any group.", "",
        ]

    # --- latency and memory ---------------------------------------------------------------

    def latency_row(self, catalogue: str, items: int, index: VectorIndex, call: str, times: tuple[float, float, float]) -> None:
        p50, p99, worst = times
        self.latency.append([catalogue, f"{items:,}", f"{index.kind}, {index.dim}-d", call, f"{p50:.2f}", f"{p99:.2f}", f"{worst:.2f}"])

    def index_build(self, items: int, dim: int, index: VectorIndex, seconds: float, peak_mib: float, recall: float) -> None:
        settings = index.settings
        self.sections["index"] = [
            f"ANN index on the synthetic catalogue: usearch HNSW, {items:,} x {dim}-d, {settings.storage} storage "
            f"(M={settings.connectivity}, ef_construction={settings.expansion_add}, ef={settings.expansion_search}), "
            f"{settings.threads} build threads.", "",
            *_table(["measure", "value"], [
                ["build time", f"{seconds:.1f} s"],
                ["index memory (usearch)", f"{index.nbytes / 2**20:,.0f} MiB"],
                ["process peak RSS growth while generating and building", f"{peak_mib:,.0f} MiB"],
                ["recall@100 against exact search (200 item queries)", f"{recall:.3f}"],
            ]),
        ]

    def model_memory(self, model: Recommender) -> None:
        vectors = sum(matrix.nbytes for matrix in model.embeddings.values())
        self.sections["index"] += [
            f"The rest of the served model at that size: embeddings {vectors / 2**20:,.0f} MiB (float32, kept for medoids and user vectors), "
            f"co-purchase neighbour table {model.neighbours.nbytes / 2**20:,.0f} MiB ({model.neighbours.ids.shape[1]} per item).", "",
        ]

    # --- the page -------------------------------------------------------------------------

    def markdown(self, config: RecsysConfig) -> str:
        settings = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name not in ("index", "served", "cold")}
        lines = [
            "# recsys: multi-interest retrieval, co-purchase neighbours and cold start on real purchases", "",
            "Data: UCI Online Retail (Chen, Sain, Guo 2012, UCI Machine Learning Repository, CC BY 4.0).", "",
            f"{self.date}, commit {self.commit}, {self.machine}; `{self.command}`", "",
            f"Cleaning (`tools/retail/data.py`, customers required): {self.cleaning}.", "",
            "Protocol: temporal split. Validation: train before 2011-10-01, evaluate October 2011 (settings chosen here). "
            "Test, run once: train before 2011-11-01, evaluate 2011-11-01 to 2011-12-09. Only new items count (bought in the "
            "evaluation period, not before the cut-off); recall@k = new items found in the top k / all new items of the user "
            "(items outside the training catalogue stay in the denominator); NDCG@10 with binary relevance.", "",
            f"Served default: `RecsysConfig()` = served blend {config.served}, cold blend {config.cold}, {settings}.", "",
            "Method. Item embeddings, fixed once computed: *content* = TF-IDF (words, bigrams, character 3-4-grams) of the "
            f"descriptions reduced to {config.dim}-d by truncated SVD; *behaviour* = truncated SVD ({config.dim}-d) of the positive PMI of the "
            f"training-period co-purchase graph ({config.graph}s); *combined* = both, concatenated with weight {config.content_weight} on content "
            f"({2 * config.dim}-d); *minilm* = all-MiniLM-L6-v2 sentence vectors (384-d, optional extra). Interests: Ward clusters of a user's "
            f"last {config.max_history} distinct items cut at distance {config.ward_threshold}, each represented by its medoid and scored by "
            f"the sum of exp(-lambda * age) over its purchases (half-life {config.half_life_days:g} days); the top {config.n_interests} each query "
            f"the index for {config.per_interest} items, blended by importance-weighted cosine. One averaged embedding: the decay-weighted mean "
            f"of the same items, one query. Co-purchase neighbours: damped cosine (shrink {config.shrink:g}) of basket co-occurrence, top "
            f"{config.neighbours} per item, summed over the user's recent items with the same decay. Cold start: HDBSCAN (min cluster size "
            f"{config.min_cluster_size}) on the {config.cluster_embedding} embeddings, outliers attached to their nearest cluster, each "
            "cluster's popular items. Users with fewer than "
            f"{config.min_history} distinct items take the cold blend.", "",
            "## Test period", "",
            *self.sections.get("test", []),
            "## Confidence intervals", "",
            *self.sections.get("bootstrap", []),
            "## Where multi-interest helps", "",
            *self.sections.get("buckets", []),
            "## Latency", "",
            "One call at a time, in process (no HTTP), 1,000 users (or 500 items) after 20 warm-up calls, milliseconds. "
            "The synthetic catalogue has the served embedding's width and the real users' purchase counts.", "",
            *_table(["catalogue", "items", "index", "call", "p50 ms", "p99 ms", "max ms"], self.latency),
            *self.sections.get("index", []),
            "## Validation (October 2011)", "",
            *self.sections.get("validation popularity", []),
            *self.sections.get("validation interests", []),
            *self.sections.get("validation blends", []),
            "## Notes", "",
            *(f"- {note}" for note in self.notes),
            *(f"- {what}: {seconds:.0f} s" for what, seconds in self.timings),
            "",
        ]
        return "\n".join(lines)
