"""The labelled retail sample: written rules (``data/RULES.md``) and the sample they label.

CKBC labels ConceptNet's relations only. For the retail relations the filter
is checked against a few hundred of the template generator's own candidates,
each labelled by the rules below, which a reviewer can apply by hand from the
two descriptions alone. :func:`label` is those rules in code; a test holds
every stored row to it, so the file and the rules cannot drift apart.

Regenerate the file (deterministic) with::

    python -m tools.kg.rules --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tools.kg.generate import Candidate, TemplateGenerator, catalogue_from_lines
from tools.kg.vocabulary import COMPLEMENTS, RETAIL_RELATIONS, USED_WITH, occasions_of, product_type

SAMPLE_PATH = Path(__file__).parent / "data" / "retail_labelled.jsonl"


class RuleNotApplicable(ValueError):
    """The rules do not decide this candidate (an untyped product, or a relation they do not cover)."""


@dataclass(frozen=True)
class LabelledTriple:
    head: str
    relation: str
    tail: str
    label: int
    rule: str
    head_item: str | None = None
    tail_item: str | None = None

    @property
    def group(self) -> str:
        """Rows about the same products stay in one fold: the unordered item pair, or the item."""
        if self.tail_item is None:
            return f"{self.head_item or self.head}"
        return "|".join(sorted((self.head_item or self.head, self.tail_item)))


def label(head: str, relation: str, tail: str) -> tuple[int, str]:
    """The label (1 true, 0 false) and the rule that gave it. Raises :class:`RuleNotApplicable`."""
    if relation == "forOccasion":
        named = occasions_of(head)
        if tail in named:
            return 1, "F1: the description names the occasion"
        return 0, "F2: the description does not name the occasion"
    if relation not in ("complementOf", "usedWith"):
        raise RuleNotApplicable(f"the retail rules do not cover {relation!r}")
    kind_a, kind_b = product_type(head), product_type(tail)
    if kind_a is None or kind_b is None:
        raise RuleNotApplicable("a product's type is not recognised")
    if kind_a == kind_b:
        return 0, "P1: same type, substitutes rather than a pair"
    pair = frozenset((kind_a, kind_b))
    table = USED_WITH if relation == "usedWith" else COMPLEMENTS
    if pair in table:
        return 1, "P2: the pair of types is in the table"
    return 0, "P3: the pair of types is not in the table"


def build_sample(candidates: Iterable[Candidate], *, per_class: int = 60, seed: int = 7) -> list[LabelledTriple]:
    """Up to ``per_class`` true and as many false candidates per retail relation, drawn with ``seed``.

    Balanced on purpose: the generator's own share of true retail candidates
    is small (that is reported separately), and a balanced sample makes the
    filter's accuracy on it mean something.
    """
    pools: dict[tuple[str, int], list[LabelledTriple]] = {}
    for candidate in candidates:
        if candidate.relation not in RETAIL_RELATIONS:
            continue
        try:
            value, rule = label(candidate.head, candidate.relation, candidate.tail)
        except RuleNotApplicable:
            continue
        row = LabelledTriple(candidate.head, candidate.relation, candidate.tail, value, rule,
                             candidate.head_item, candidate.tail_item)
        pools.setdefault((candidate.relation, value), []).append(row)
    rng = random.Random(seed)  # noqa: S311 - a reproducible draw, not a secret
    sample: list[LabelledTriple] = []
    for key in sorted(pools):
        pool = sorted(pools[key], key=lambda r: (r.head, r.tail, r.head_item or "", r.tail_item or ""))
        sample.extend(rng.sample(pool, min(per_class, len(pool))))
    return sample


def read_sample(path: Path = SAMPLE_PATH) -> list[LabelledTriple]:
    """The stored sample. Raises ``FileNotFoundError`` or ``ValueError`` on a malformed row."""
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(LabelledTriple(**json.loads(line)))
        except (json.JSONDecodeError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a labelled triple ({exc})") from exc
    return rows


def write_sample(rows: Iterable[LabelledTriple], path: Path = SAMPLE_PATH) -> None:
    lines = [json.dumps({"head": r.head, "relation": r.relation, "tail": r.tail, "label": r.label, "rule": r.rule,
                         "head_item": r.head_item, "tail_item": r.tail_item}, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    from tools.retail.data import load

    parser = argparse.ArgumentParser(description="Regenerate the labelled retail sample.")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    options = parser.parse_args()
    catalogue = catalogue_from_lines(load(options.data_dir).lines)
    candidates = asyncio.run(TemplateGenerator().generate(catalogue))
    rows = build_sample(candidates)
    write_sample(rows)
    print(f"{len(rows)} rows written to {SAMPLE_PATH}")


if __name__ == "__main__":
    main()
