"""Verify the audit chain: every link, every digest, every signed checkpoint; name the first bad record.

Streams the records in chain order, so memory stays flat however long the chain.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit import CHAINED_FIELDS, GENESIS, AuditRecord, chain_digest, head
from core.checkpoints import (
    Checkpoint,
    load_or_create_key,
    load_public_key,
    read_checkpoints,
    signature_valid,
    write_checkpoint,
)
from core.settings import Settings

logger = logging.getLogger(__name__)

MAX_PROBLEMS = 20


@dataclass
class Problem:
    seq: int | None
    kind: str  # "edited", "deleted", "reordered", "broken_link", "truncated", "checkpoint", "head"
    message: str


@dataclass
class VerifyReport:
    records: int = 0
    head_seq: int = 0
    checkpoints: int = 0
    problems: list[Problem] = field(default_factory=list)
    open_intents: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "head_seq": self.head_seq,
            "checkpoints": self.checkpoints,
            "first_problem": vars(self.first_problem) if self.first_problem else None,
            "problems": [vars(p) for p in self.problems],
            "open_intents": self.open_intents,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records / self.seconds) if self.seconds > 0 else None,
        }


class _Walk:
    """The forward walk; holds one record of look-back and a look-ahead of one."""

    def __init__(self, report: VerifyReport) -> None:
        self.report = report
        self.expected_seq = 1
        self.prev_digest = GENESIS
        self.digests_at: dict[int, str] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self._resume: str | None = None

    def problem(self, seq: int | None, kind: str, message: str) -> None:
        if len(self.report.problems) < MAX_PROBLEMS:
            self.report.problems.append(Problem(seq, kind, message))

    def step(self, entry: Any, following: Any, wanted: set[int]) -> None:
        seq = entry.seq or 0
        if seq != self.expected_seq:
            if seq > self.expected_seq:
                missing = f"{self.expected_seq}" if seq == self.expected_seq + 1 else f"{self.expected_seq}..{seq - 1}"
                self.problem(self.expected_seq, "deleted", f"record(s) {missing} missing: deleted from the middle of the chain")
            else:
                self.problem(seq, "reordered", f"record {seq} appears again after {self.expected_seq - 1}")
        swapped = False
        if entry.record_digest != chain_digest(entry.prev_digest or "", entry):
            self.problem(seq, "edited", f"record {seq} ({entry.kind}) does not match its digest: a field was edited")
        elif entry.prev_digest != self.prev_digest:
            if following is not None and following.prev_digest == self.prev_digest:
                self.problem(seq, "reordered", f"records {seq} and {following.seq} are in the wrong order")
                swapped = True
            elif seq == self.expected_seq:
                self.problem(seq, "broken_link", f"record {seq} does not follow record {seq - 1}")
        if swapped:
            # The partner links to what came before this one; the chain then goes on from this one.
            self._resume = entry.record_digest
        else:
            self.prev_digest = entry.record_digest or ""
            if self._resume is not None:
                self.prev_digest, self._resume = self._resume, None
        self.expected_seq = seq + 1
        if seq in wanted:
            self.digests_at[seq] = entry.record_digest or ""
        self.report.records += 1
        self._track_intent(entry)

    def _track_intent(self, entry: Any) -> None:
        if not entry.call_id:
            return
        if entry.kind == "tool_call.intent":
            self.intents[entry.call_id] = {"seq": entry.seq, "call_id": entry.call_id, "tool": entry.tool, "user": entry.user, "agent": entry.agent}
        elif entry.kind == "tool_call.outcome":
            self.intents.pop(entry.call_id, None)


async def verify(
    session: AsyncSession, checkpoints: list[Checkpoint], public_key: Ed25519PublicKey | None
) -> VerifyReport:
    """Check the whole chain and every checkpoint. Never raises for tampering: it reports it."""
    started = time.perf_counter()
    report = VerifyReport(checkpoints=len(checkpoints))
    walk = _Walk(report)
    wanted = {c.seq for c in checkpoints}
    # Plain rows, not ORM objects: verify is read-only and a million objects would cost.
    columns = [getattr(AuditRecord, name) for name in ("seq", "prev_digest", "record_digest", *CHAINED_FIELDS)]
    stream = await session.stream(select(*columns).order_by(AuditRecord.seq).execution_options(yield_per=5000))
    previous: Any = None
    async for entry in stream:
        if previous is not None:
            walk.step(previous, entry, wanted)
        previous = entry
    if previous is not None:
        walk.step(previous, None, wanted)
    last_seq = walk.expected_seq - 1
    head_seq, head_digest = await head(session)
    report.head_seq = head_seq
    if (head_seq, head_digest) != (last_seq, walk.prev_digest):
        walk.problem(last_seq, "head", f"the chain head says {head_seq} but the records end at {last_seq}")
    for checkpoint in checkpoints:
        _check_checkpoint(walk, checkpoint, last_seq, public_key)
    report.open_intents = sorted(walk.intents.values(), key=lambda i: i["seq"])
    report.seconds = time.perf_counter() - started
    return report


def _check_checkpoint(walk: _Walk, checkpoint: Checkpoint, last_seq: int, public_key: Ed25519PublicKey | None) -> None:
    name = checkpoint.path.name if checkpoint.path else f"seq {checkpoint.seq}"
    if public_key is None or not signature_valid(checkpoint, public_key):
        walk.problem(checkpoint.seq, "checkpoint", f"checkpoint {name} has no valid signature")
    elif checkpoint.seq > last_seq:
        walk.problem(
            last_seq + 1, "truncated",
            f"checkpoint {name} (signed {checkpoint.at}) covers record {checkpoint.seq}, but the chain ends at {last_seq}: records after {last_seq} were deleted",
        )
    elif walk.digests_at.get(checkpoint.seq) != checkpoint.digest:
        walk.problem(checkpoint.seq, "checkpoint", f"record {checkpoint.seq} differs from checkpoint {name}: the chain was rewritten")


async def verify_configured(session: AsyncSession, settings: Settings) -> VerifyReport:
    """Verify against the checkpoints and key the settings name."""
    return await verify(session, read_checkpoints(settings.checkpoint_dir), load_public_key(settings.checkpoint_key_path))


async def checkpoint_configured(session: AsyncSession, settings: Settings) -> Checkpoint:
    """Sign the current head into the configured checkpoint directory."""
    seq, digest = await head(session)
    return write_checkpoint(settings.checkpoint_dir, load_or_create_key(settings.checkpoint_key_path), seq, digest)


async def checkpoint_forever(interval: float, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Sign a checkpoint every ``interval`` seconds, for the life of the app."""
    while True:
        await asyncio.sleep(interval)
        try:
            async with sessionmaker() as session:
                await checkpoint_configured(session, settings)
        except (OSError, ValueError):
            # The next interval tries again; verify shows how stale the last one is.
            logger.exception("signing an audit checkpoint failed")
