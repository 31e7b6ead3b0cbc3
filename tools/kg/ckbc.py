"""ConceptNet CKBC: labelled commonsense triples (Li et al. 2016; ConceptNet 5, CC BY-SA 4.0).

Each file is ``relation<TAB>object<TAB>subject<TAB>label`` (the object before
the subject: ``UsedFor write pen 1`` is "pen usedFor write"). The first half
of a file is true triples, the second half their corruptions, row ``i`` of
the second half being row ``i`` of the first with one slot (relation,
subject or object) swapped. A pair is one group: cross-validation keeps it in
one fold, or the classifier would be tested on the twin of a triple it saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tools.kg.errors import TrainingDataMissing
from tools.kg.generate import Triple
from tools.kg.vocabulary import from_conceptnet, normalise

FOLDER = "conceptnet_ckbc"
SPLITS = ("dev1", "dev2", "test")


@dataclass(frozen=True)
class LabelledSet:
    triples: list[Triple]
    labels: list[int]
    groups: list[str]  # rows sharing a group are a true triple and its corruption

    def __add__(self, other: LabelledSet) -> LabelledSet:
        return LabelledSet(self.triples + other.triples, self.labels + other.labels, self.groups + other.groups)

    def subset(self, rows: list[int]) -> LabelledSet:
        return LabelledSet([self.triples[i] for i in rows], [self.labels[i] for i in rows], [self.groups[i] for i in rows])

    def pairs(self, count: int) -> LabelledSet:
        """The first ``count`` groups, both rows of each (a small sample that keeps pairs whole)."""
        wanted = list(dict.fromkeys(self.groups))[:count]
        keep = set(wanted)
        return self.subset([i for i, g in enumerate(self.groups) if g in keep])


def parse(text: str, split: str) -> LabelledSet:
    """Rows of one CKBC file. Raises ``ValueError`` on a malformed row."""
    rows: list[tuple[Triple, int]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 4 or parts[3] not in ("0", "1"):
            raise ValueError(f"{split}:{number}: expected relation, object, subject, label: {line!r}")
        relation, obj, subject, value = parts
        rows.append((Triple(normalise(subject), from_conceptnet(relation), normalise(obj)), int(value)))
    half = len(rows) // 2
    # Pairs as the format promises: positives first, then their corruptions in the same order.
    paired = len(rows) % 2 == 0 and all(
        rows[i][1] == 1 and rows[i + half][1] == 0 and sum(a != b for a, b in zip(rows[i][0], rows[i + half][0], strict=True)) == 1
        for i in range(half)
    )
    groups = [f"{split}:{i % half}" if paired else f"{split}:row{i}" for i in range(len(rows))]
    return LabelledSet([t for t, _ in rows], [v for _, v in rows], groups)


def load(data_dir: Path | None, *splits: str) -> LabelledSet:
    """The named splits, concatenated. Raises :class:`TrainingDataMissing`."""
    if data_dir is None:
        raise TrainingDataMissing("no data directory is configured (TOLLHOUSE_DATA_DIR)")
    out = LabelledSet([], [], [])
    for split in splits or SPLITS:
        path = data_dir / FOLDER / f"{split}.tsv"
        if not path.exists():
            raise TrainingDataMissing(f"{path} does not exist")
        out = out + parse(path.read_text(encoding="utf-8"), split)
    return out
