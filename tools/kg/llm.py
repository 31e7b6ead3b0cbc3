"""The LLM generator: candidate triples from an OpenAI-compatible chat endpoint.

Meant for the gateway's own ``/v1/chat/completions`` (so every inference is
governed and audited there, under the delegated token it is given). The
model sees products (stock code and description) in batches and answers one
JSON object ``{"triples": [{"item": ..., "relation": ..., "tail": ...}]}``;
the answer is validated and anything unusable raises
:class:`~tools.kg.errors.GenerationError` with the reason. Like the template
generator it proposes; the filter decides.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.kg.errors import GenerationError
from tools.kg.generate import Candidate, Catalogue, deduplicate
from tools.kg.vocabulary import normalise
from tools.text.chat import completion_text

LlmRelation = Literal["isA", "usedFor", "capableOf", "atLocation", "forOccasion", "complementOf", "usedWith"]
INSTRUCTIONS = """You propose commonsense facts about gift-shop products.
Answer with one JSON object and nothing else: {"triples": [...]}. Each triple has exactly these fields:
- "item": the stock code of one of the given products;
- "relation": one of isA, usedFor, capableOf, atLocation, forOccasion, complementOf, usedWith;
- "tail": a short concept (for example "kitchen", "christmas", "drink tea"), or, for complementOf and
  usedWith, the stock code of another given product.
Propose up to 5 triples per product."""


class ProposedTriple(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: str = Field(min_length=1, max_length=32)
    relation: LlmRelation
    tail: str = Field(min_length=1, max_length=200)


class Proposal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    triples: list[ProposedTriple] = Field(max_length=500)


def parse_answer(content: str) -> Proposal:
    """Validate a model's answer. Raises :class:`GenerationError` saying what was wrong."""
    text = content.strip()
    # Some models fence JSON in Markdown even when told not to; that much is tolerated.
    if text.startswith("```") and text.endswith("```"):
        text = text[3:-3].removeprefix("json").strip()
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GenerationError(f"the model's answer is not JSON ({exc.msg}): {content[:120]!r}") from exc
    try:
        return Proposal.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "(answer)"
        raise GenerationError(f"the model's JSON does not match the schema: {where}: {first.get('msg')}") from exc


def to_candidates(proposal: Proposal, products: dict[str, str], model: str) -> list[Candidate]:
    """Candidates for the proposed triples about known products; the rest are dropped (a model may invent codes)."""
    out = []
    for triple in proposal.triples:
        if triple.item not in products:
            continue
        evidence = {"rule": "llm", "model": model}
        head = normalise(products[triple.item])
        if triple.relation in ("complementOf", "usedWith"):
            if triple.tail not in products or triple.tail == triple.item:
                continue
            out.append(Candidate(head, triple.relation, normalise(products[triple.tail]), head_item=triple.item,
                                 tail_item=triple.tail, source="llm", evidence=evidence))
        else:
            out.append(Candidate(head, triple.relation, normalise(triple.tail), head_item=triple.item,
                                 source="llm", evidence=evidence))
    return out


class LlmGenerator:
    """Asks ``model`` at ``base_url`` (an OpenAI base URL ending in ``/v1``) with ``token`` as the bearer."""

    name = "llm"

    def __init__(self, base_url: str, token: str, model: str, *, batch: int = 40, max_products: int | None = None,
                 timeout: float = 60.0, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = f"{base_url.rstrip('/')}/chat/completions"
        self.token = token
        self.model = model
        self.batch = batch
        self.max_products = max_products
        self.timeout = timeout
        self.transport = transport

    def request_body(self, products: Sequence[tuple[str, str]]) -> dict[str, Any]:
        listing = "\n".join(f"{code}: {description}" for code, description in products)
        return {
            "model": self.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": INSTRUCTIONS},
                {"role": "user", "content": f"Products, one per line (stock code: description):\n{listing}"},
            ],
        }

    async def _ask(self, http: httpx.AsyncClient, products: Sequence[tuple[str, str]]) -> Proposal:
        return parse_answer(await completion_text(http, self.url, self.token, self.request_body(products), GenerationError))

    async def generate(self, catalogue: Catalogue) -> list[Candidate]:
        """Candidates for the catalogue's products, batch by batch. Raises :class:`GenerationError`."""
        products = sorted(catalogue.products.items())[: self.max_products]
        out: list[Candidate] = []
        async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as http:
            for start in range(0, len(products), self.batch):
                proposal = await self._ask(http, products[start : start + self.batch])
                out += to_candidates(proposal, catalogue.products, self.model)
        return deduplicate(out)
