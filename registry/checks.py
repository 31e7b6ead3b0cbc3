"""Static checks a tool manifest gets at submission.

Hidden characters are refusals: a reviewer cannot approve text they cannot
see. Injection patterns are flags: they point a human reviewer at a sentence
that talks to the model instead of describing the tool. Name checks stop a
new tool from passing itself off as an approved one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = [
    "INJECTION_PATTERNS", "Finding", "InjectionPattern", "find_hidden_characters",
    "flag_injection", "name_conflict", "name_skeleton", "walk_strings",
]

_EXCERPT_MAX = 80
_ELLIPSIS = "…"


@dataclass(frozen=True)
class Finding:
    """One problem at one place in a manifest; ``excerpt`` is safe to display."""

    path: str
    code: str
    message: str
    excerpt: str


# --- hidden characters -------------------------------------------------------

_ALLOWED_CONTROLS = frozenset("\n\r\t")
# Listed explicitly because U+034F is Mn, not Cf, and because naming the
# class in the message tells the submitter what kind of thing we found.
_ZERO_WIDTH = frozenset(
    "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u180e\u00ad\u034f"
)
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def _hidden_kind(ch: str) -> str | None:
    cp = ord(ch)
    if 0xE0000 <= cp <= 0xE007F:
        return "tag character"
    if ch in _ZERO_WIDTH:
        return "zero-width character"
    if ch in _BIDI:
        return "bidi control"
    category = unicodedata.category(ch)
    if category == "Cf":
        return "format character"
    if category == "Co":
        return "private-use character"
    if category == "Cc" and ch not in _ALLOWED_CONTROLS:
        return "control character"
    return None


def _escape(text: str) -> str:
    # Escape everything a terminal or browser would not show as itself,
    # including newlines, so paths and excerpts stay on one visible line.
    out: list[str] = []
    for ch in text:
        if _hidden_kind(ch) is None and ch.isprintable():
            out.append(ch)
        else:
            cp = ord(ch)
            out.append(f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}")
    return "".join(out)


def _excerpt(text: str, start: int, end: int) -> str:
    # Grow outwards from the hit one character at a time, measuring the
    # escaped length, so an escape sequence is never cut in half.
    budget = _EXCERPT_MAX - 2 * len(_ELLIPSIS)
    body = _escape(text[start:end])
    if len(body) > budget:
        return body[: _EXCERPT_MAX - len(_ELLIPSIS)] + _ELLIPSIS
    lo, hi = start, end
    grew = True
    while grew:
        grew = False
        if lo > 0 and len(body) + len(piece := _escape(text[lo - 1])) <= budget:
            body, lo, grew = piece + body, lo - 1, True
        if hi < len(text) and len(body) + len(piece := _escape(text[hi])) <= budget:
            body, hi, grew = body + piece, hi + 1, True
    return (_ELLIPSIS if lo > 0 else "") + body + (_ELLIPSIS if hi < len(text) else "")


def _join(path: str, key: object) -> str:
    name = _escape(str(key))
    return f"{path}.{name}" if path else name


def walk_strings(obj: object, path: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(path, string)`` for every string value and every dict key.

    A key is reported at its own path (the path its value lives at), before
    anything inside its value. Order is document order, so results are stable.
    """
    # An explicit stack rather than recursion: a hostile manifest can nest
    # deeper than Python's recursion limit.
    stack: list[tuple[str, object, bool]] = [(path, obj, False)]
    while stack:
        here, node, is_key = stack.pop()
        if isinstance(node, str):
            yield here, node
        elif is_key:
            continue
        elif isinstance(node, dict):
            children: list[tuple[str, object, bool]] = []
            for key, value in node.items():
                child = _join(here, key)
                children.append((child, key, True))
                children.append((child, value, False))
            stack.extend(reversed(children))
        elif isinstance(node, list | tuple):
            stack.extend((f"{here}[{i}]", item, False) for i, item in reversed(list(enumerate(node))))


def find_hidden_characters(manifest: object) -> list[Finding]:
    """Return one refusal per string that contains an invisible or control character.

    Covers Unicode tag characters, zero-width characters, bidi controls and
    any other Cf, Co or Cc (except newline, carriage return and tab).
    """
    findings: list[Finding] = []
    for path, text in walk_strings(manifest):
        hits = [(i, kind) for i, ch in enumerate(text) if (kind := _hidden_kind(ch))]
        if not hits:
            continue
        offset, kind = hits[0]
        ch = text[offset]
        name = unicodedata.name(ch, "")
        label = f"U+{ord(ch):04X}" + (f" {name}" if name else "")
        count = f"{len(hits)} hidden character{'s' if len(hits) != 1 else ''} in this string"
        message = f"{kind} {label} at offset {offset} ({count})"
        findings.append(
            Finding(path, "hidden_character", message, _excerpt(text, offset, offset + 1))
        )
    return findings


# --- injection patterns ------------------------------------------------------


@dataclass(frozen=True)
class InjectionPattern:
    """A named regular expression and the reason a reviewer should look at its hits."""

    id: str
    why: str
    regex: re.Pattern[str]


def _pattern(pattern_id: str, why: str, source: str) -> InjectionPattern:
    return InjectionPattern(pattern_id, why, re.compile(source, re.IGNORECASE | re.MULTILINE))


# Any character that does not end the sentence: keeps gaps inside one sentence
# while still letting "~/.ssh" or "example.com" through.
_S = r"(?:(?![.!?](?:\s|$))[^\n])"
_TOOL_NAME = r"(?!this\b|that\b|a\b)(?:`[^`\n]{1,60}`|['\"][^'\"\n]{1,60}['\"]|[\w.-]+)"
_SECRET_NOUN = (
    r"(?:api[\s_-]?keys?|passwords?|private[\s_-]?keys?|credentials?|secrets?|"
    r"(?:access|auth|bearer|session|refresh)[\s_-]?tokens?|tokens|cookies|"
    r"(?:seed|recovery)\s+phrases?|ssh\s+keys?)"
)

INJECTION_PATTERNS: tuple[InjectionPattern, ...] = (
    _pattern("ignore_previous", "tries to cancel the instructions the model already has",
             r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:(?:all|any|the|your|of|these|those|every)\s+)*"
             r"(?:previous|prior|above|earlier|preceding|former|original|system|safety)\s+"
             r"(?:instructions?|directions?|directives?|rules?|guidelines?|prompts?|messages?|constraints?|polic(?:y|ies))\b"
             r"|\b(?:ignore|disregard|forget)\s+(?:everything|anything|whatever)\s+(?:you\s+(?:were|have\s+been)\s+)?(?:told|instructed|said)\b"
             r"|\b(?:previous|prior|earlier|original|your)\s+(?:instructions?|guidance|directions?|rules?|orders?|guidelines?)\s+"
             r"(?:no\s+longer|do(?:es)?\s*(?:not|n't))\s+apply"),
    # Claims of special authority or a changed mode, the preamble of most jailbreaks.
    _pattern("authority_claim", "claims an override, a special mode or lifted safety rules",
             r"\b(?:system|admin|developer|safety|security)\s+(?:override|mode)\b|\bfrom\s+now\s+on\b"
             r"|\b(?:safety|security|content)\s+(?:checks?|filters?|rules?|guidelines?|restrictions?)\s+(?:are|is|have\s+been)\s+"
             r"(?:now\s+)?(?:disabled|off|lifted|suspended|removed|waived)\b"
             r"|\b(?:is|are)\s+(?:now\s+)?(?:authori[sz]ed|permitted|allowed|granted\s+permission)\s+to\s+(?:skip|bypass|ignore|disable|approve)\b"),
    # Human confirmation is the last line of defence; a description must not switch it off.
    _pattern("skip_confirmation", "asks the model to skip user confirmation",
             r"\b(?:skip|bypass|disable|suppress|avoid)\s+(?:the\s+|any\s+|all\s+)?(?:user\s+)?(?:confirmation|approval|consent|permission)s?\b"
             r"|\bapprove\s+(?:every|all|any)\b"),
    # Puts the description above the user's own request.
    _pattern("overrule_user", "tells the model to put the tool above the user's request",
             r"\b(?:even\s+if|regardless\s+of|no\s+matter)\s+(?:what\s+)?(?:it\s+)?(?:the\s+user\s+(?:says|typed|types|asks|asked|wants|requests?|requested)|conflicts?\s+with)\b"
             rf"|\b(?:follow|obey|prioriti[sz]e|prefer)\b{_S}{{0,30}}?\bover\s+(?:the\s+)?user'?s?\b"
             r"|\b(?:follow|obey|execute|carry\s+out|do)\s+(?:exactly\s+)?(?:what(?:ever)?\s+it\s+says|the\s+instructions\s+(?:it\s+contains|there|found\s+there))\b"),
    # A description documents a tool; an order with "always/now" is aimed at the model.
    _pattern("must_act", "orders the model to take an extra action",
             rf"\byou\s+(?:must|should|need\s+to|have\s+to|are\s+(?:required|expected)\s+to)\s+"
             rf"(?:always|now|also|immediately|silently|secretly)\b{_S}{{0,60}}?"
             r"\b(?:call|invoke|run|read|send|include|pass|attach|append|add|copy|share|post|fetch|open|forward|upload)\b"),
    _pattern("conceal_from_user", "asks the model to keep something from the user",
             rf"\b(?:do\s+not|don'?t|never|without)\s+(?:tell(?:ing)?|mention(?:ing)?|reveal(?:ing)?|inform(?:ing)?|"
             rf"notify(?:ing)?|disclos(?:e|ing)|alert(?:ing)?|show(?:ing)?|ask(?:ing)?|let(?:ting)?)\b{_S}{{0,40}}?"
             r"\b(?:the\s+)?(?:user|human|operator)s?\b"
             # Softer wording of the same request, common in paraphrased attacks.
             r"|\b(?:no\s+need\s+to|without|never|do\s+not|don'?t)\s+(?:bring(?:ing)?\s+(?:this|it|that)\s+up|mention(?:ing)?\s+(?:this|it|that))\b"
             r"|\b(?:stay|remain|kept|keep\s+(?:this|it))\s+between\s+(?:us|ourselves)\b|\bkeep\s+(?:this|it)\s+to\s+yourself\b"
             r"|\b(?:not\s+worth\s+|(?:does|do|need)\s*(?:not|n't)\s+(?:need\s+to\s+)?(?:be\s+)?|no\s+need\s+to\s+(?:be\s+)?)"
             r"(?:discuss|mention|report|disclos|surfac|rais)\w*"),
    _pattern("hidden_from_user", "describes behaviour the user is not meant to see",
             r"\b(?:the\s+)?user\s+(?:must|should|need|needs\s+to|is|does|will|can)?\s*(?:not|never|n't)\s+"
             r"(?:be\s+)?(?:see|know|notice|told|informed|aware|shown)\b"
             rf"|\b(?:hide|hidden|conceal(?:ed)?|secret|invisible|keep\s+(?:this|it))\b{_S}{{0,30}}?\bfrom\s+the\s+user\b"
             r"|\bwithout\s+the\s+user'?s?\s+(?:knowledge|knowing|noticing|awareness|consent)\b"),
    _pattern("system_prompt", "refers to the model's system prompt",
             r"\bsystem\s+prompts?\b|\b(?:reveal|print|show|output|repeat)\s+your\s+(?:instructions|prompt)\b"),
    # Pseudo-XML and chat-template markers make injected text look authoritative.
    _pattern("role_tag", "contains role or emphasis markup aimed at the model",
             r"<\s*/?\s*(?:important|system|instructions?|admin|secret|hidden|critical|sys)\s*>"
             r"|\[/?inst\]|<\|\s*(?:im_start|im_end|im_sep|system|assistant|user|endoftext|eot_id|start_header_id)\s*\|>"
             r"|<<\s*/?sys\s*>>|^\s*#{2,}\s*(?:system|instructions?)\b"),
    # Files that hold keys or tokens; a tool description has no reason to name them.
    _pattern("secret_path", "names a credential file or sensitive path",
             r"(?<!\w)\.ssh\b|\bid_(?:rsa|dsa|ecdsa|ed25519)\b|(?<![\w.])\.env\b(?!-)|/etc/(?:passwd|shadow|sudoers)\b"
             r"|\.aws/credentials\b|\baws_secret_access_key\b|\bmcp\.json\b|\bclaude_desktop_config\.json\b"
             r"|(?<!\w)\.(?:netrc|npmrc|pypirc|pgpass|git-credentials|bash_history|gnupg)\b|\.kube/config\b"
             r"|\.docker/config\.json\b|\bwallet\.dat\b"),
    # Documenting an auth header is fine; asking to gather someone's secrets is not.
    _pattern("credential_request", "asks the model to collect or pass on secrets",
             rf"\b(?:read|include|send|pass|extract|collect|gather|copy|append|attach|dump|output|print|forward|share|"
             rf"upload|exfiltrate|retrieve|fetch|grab|find|list)\b{_S}{{0,40}}?"
             rf"\b(?:all|any|every|the\s+user'?s|user'?s|their|your|stored|saved|cached|local|environment)\b{_S}{{0,20}}?"
             rf"\b{_SECRET_NOUN}\b"
             # Or the other way round: a secret, then "put it into" an argument.
             rf"|\b{_SECRET_NOUN}\b{_S}{{0,60}}?\b(?:put|pass|include|place|insert|send|supply|attach|add|paste)\s+"
             r"(?:it|them|these|those)\s+(?:in|into|as|to|with)\b"),
    # A credential described in words ("the key in the home folder") rather than by path.
    _pattern("secret_in_home", "points at credentials kept in the user's home directory",
             rf"\b(?:(?:private|ssh|deploy|signing|api)\s+keys?|key\s+files?|credentials?|login\s+(?:files?|details)|"
             rf"passwords?|tokens?)\b{_S}{{0,80}}?(?:\bhome\s+(?:folder|directory|dir)\b|\buser\s+profile\b|\$home\b|%userprofile%)"
             rf"|(?:\bhome\s+(?:folder|directory|dir)\b|\buser\s+profile\b|\$home\b|%userprofile%){_S}{{0,40}}?"
             r"\b(?:(?:private|ssh|deploy|signing)\s+keys?|key\s+files?|credentials?)\b"),
    # The user's own data moved into an argument the tool author chose.
    _pattern("user_data_to_argument", "asks for the user's private data to be put into an argument",
             r"\b(?:the\s+)?user'?s\s+(?:\w+\s+){0,2}?(?:inbox|e-?mails?|messages|contacts|files|clipboard|history|documents|"
             rf"notes|photos|location|browser|cookies|calendar)\b{_S}{{0,40}}?\b(?:in|into|to|as)\s+(?:the\s+)?['\"`]?\w+['\"`]?\s+"
             r"(?:parameter|argument|field|param)\b"),
    # Payment card data never belongs in a tool call the model assembles.
    _pattern("card_data", "asks for payment card data",
             r"\b(?:cvc|cvv2?|card\s+verification\s+(?:code|value)|full\s+card\s+numbers?)\b"),
    # Text inside an HTML comment is invisible once the description is rendered.
    _pattern("html_comment", "contains an HTML comment, hidden when rendered",
             r"<!--"),
    # Chat history is the user's data; a tool has no reason to receive it in an argument.
    _pattern("conversation_exfil", "asks for the conversation to be passed to the tool",
             rf"\b(?:(?:entire|whole|full|complete)\s+(?:conversation|chat|transcript|message\s+history)|"
             rf"(?:conversation|chat|message)\s+(?:history|so\s+far|log|transcript)|(?:previous|earlier|prior)\s+messages)\b"
             rf"{_S}{{0,80}}?\b(?:append|include|pass|put|attach|add|send|copy|insert|supply|paste)(?:s|ed|ing)?\b"
             rf"|\b(?:append|include|pass|put|attach|add|send|copy|insert|supply|paste)\b{_S}{{0,20}}?"
             r"\b(?:entire|whole|full|complete)\s+(?:conversation|chat|transcript|message\s+history)\b"),
    # A destination spelled out next to an imperative send verb is the exfiltration step;
    # "Uploads ... to https://" is a tool describing its own endpoint, so no -s/-ed forms.
    _pattern("exfil_address", "tells the model to send data to a spelled-out address",
             r"\b(?:send|post|upload|forward|transmit|submit|exfiltrate|report|copy|sync|mirror|beacon|ping|share|mail|email)"
             rf"(?:ing)?\b{_S}{{0,80}}?\b(?:to|at|via|into|with)\s+<?(?:(?:https?|ftp|wss?)://|[\w.+-]+@[\w-]+\.\w)"),
    _pattern("content_smuggle", "asks the model to put file contents into an argument",
             rf"\b(?:pass|put|include|insert|place|embed|add|append|attach|send|provide|paste)\b{_S}{{0,20}}?"
             r"\b(?:its|their|(?:the|that|this)\s+file'?s)\s+(?:full\s+|entire\s+|raw\s+|complete\s+)?"
             r"contents?\s+(?:as|in|into|inside|within|via)\b"),
    # Tool shadowing: one tool's description rewriting how another tool behaves.
    _pattern("tool_shadowing", "tries to change how another tool is used",
             rf"\b(?:instead\s+of|rather\s+than|before|after|whenever|prior\s+to)\s+(?:using|calling|invoking|running)\s+"
             rf"(?:the\s+|any\s+)?{_TOOL_NAME}\s+tool\b"
             rf"|\b(?:before|after|whenever|when|every\s+time)\s+you\s+(?:use|call|invoke|run)\s+(?:the\s+|any\s+)?{_TOOL_NAME}\s+tool\b"
             rf"|\bwhen(?:ever)?\s+(?:the\s+)?(?:`[^`\n]{{1,60}}`|[A-Za-z]\w*[_.][\w.]+|{_TOOL_NAME}\s+tool)\s+(?:tool\s+)?"
             r"(?:is|gets|has\s+been)\s+(?:called|invoked|used|available|present|run|executed|loaded)\b"
             r"|\b(?:overrides?|supersedes?|takes?\s+precedence\s+over)\s+(?:the\s+|any\s+|all\s+)?(?:other\s+)?[\w.`'\"-]*\s*tools?\b"),
    _pattern("redirect_target", "changes where a message or payment goes",
             rf"\b(?:change|replace|redirect|swap|switch|override|set)\s+(?:the\s+)?(?:recipient|destination|receiver|"
             rf"beneficiary|payee|account\s+number|iban|wallet(?:\s+address)?|to[-\s]address|phone\s+number|bcc)s?\b"
             rf"{_S}{{0,40}}?\bto\s+(?:\S*@\S+|\+?\d[\d\s-]{{5,}}|0x[0-9a-f]{{6,}}|[`'\"])"),
    # Adverbs that only make sense when an action is meant to go unnoticed.
    _pattern("covert_action", "asks for an action to be done quietly",
             r"\b(?:silently|secretly|covertly|quietly|discreetly|invisibly|surreptitiously)\s+(?:\w+\s+){0,2}?"
             r"(?:call|read|send|include|pass|append|add|upload|forward|copy|run|execute|invoke|attach|collect|bcc|post)\w*\b"),
    _pattern("addresses_model", "speaks to the model rather than describing the tool",
             r"\b(?:note|message|instructions?|reminder)\s+(?:to|for)\s+(?:the\s+)?(?:ai|assistant|model|llm|agent)s?\b"
             r"|\b(?:as\s+an?\s+(?:ai|language\s+model)|dear\s+(?:ai|assistant|model|agent))\b"
             r"|\b(?:ai|llm|assistant|model|agent)s?\s*[,:]?\s*(?:must|should)\s+(?:always|now|never|first|also|secretly|silently)\b"),
    # Long base64 can carry instructions a reviewer cannot read; needs mixed
    # case and a digit so long words or paths do not count.
    _pattern("base64_blob", "contains a long base64-looking blob",
             r"(?-i:(?<![A-Za-z0-9+/=_-])(?=[A-Za-z0-9+/_-]*[0-9])(?=[A-Za-z0-9+/_-]*[A-Z])(?=[A-Za-z0-9+/_-]*[a-z])"
             r"[A-Za-z0-9+/_-]{80,}={0,2})"),
)


# Small, explicit: the lookalikes that matter for Latin tool names.
_HOMOGLYPHS = str.maketrans({
    # Cyrillic
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j",
    "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "У": "Y", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S", "Ԛ": "Q", "Ԝ": "W",
    # Greek
    "ο": "o", "α": "a", "ν": "v", "ρ": "p", "τ": "t", "ι": "i", "κ": "k",
    "Ο": "O", "Α": "A", "Ν": "N", "Ρ": "P", "Τ": "T", "Ι": "I", "Κ": "K",
    "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Μ": "M", "Χ": "X", "Υ": "Y",
    # Latin
    "ı": "i",
})
_ASCII_LOOKALIKES = str.maketrans({"0": "o", "1": "l", "|": "l"})


def _for_matching(text: str) -> str:
    # Match what a reader would see: fullwidth and homoglyph spellings, or
    # words split by invisible characters, must not slip past the patterns.
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if _hidden_kind(ch) is None)
    return text.translate(_HOMOGLYPHS)


def flag_injection(manifest: object) -> list[Finding]:
    """Flag instruction-like text aimed at the model, for a human reviewer.

    Returns at most one finding per (path, pattern id), in walk order. The
    excerpt is taken from the normalised text the pattern matched.
    """
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for path, text in walk_strings(manifest):
        probe = _for_matching(text)
        for pattern in INJECTION_PATTERNS:
            if (path, pattern.id) in seen:
                continue
            match = pattern.regex.search(probe)
            if match is None:
                continue
            seen.add((path, pattern.id))
            message = f"injection pattern '{pattern.id}': {pattern.why}"
            excerpt = _excerpt(probe, match.start(), match.end())
            findings.append(Finding(path, "injection_pattern", message, excerpt))
    return findings


# --- names ---------------------------------------------------------------------


def name_skeleton(name: str) -> str:
    """Return a comparison key under which visually confusable tool names are equal.

    NFKC, homoglyphs to Latin, casefold, ``0``→``o``, ``1``/``|``→``l``,
    ``rn``→``m``, ``vv``→``w``, and ``_ - .`` and whitespace all become ``.``.
    """
    text = unicodedata.normalize("NFKC", name)
    text = "".join(ch for ch in text if _hidden_kind(ch) is None)
    # Map before casefolding: Cyrillic В casefolds to в, which no longer looks like b.
    text = text.translate(_HOMOGLYPHS).casefold().translate(_HOMOGLYPHS)
    text = text.translate(_ASCII_LOOKALIKES).replace("rn", "m").replace("vv", "w")
    return "".join(
        "." if ch in "_-." or ch.isspace() or unicodedata.category(ch) == "Pd" else ch
        for ch in text
    )


def name_conflict(name: str, existing: Iterable[str]) -> tuple[str, str] | None:
    """Return ``(existing_name, "case" | "confusable")`` if ``name`` impersonates one.

    An exact match is not a conflict: it is a new version of the same tool
    and ownership is the caller's business.
    """
    others = list(existing)
    if name in others:
        return None
    folded = name.casefold()
    # Case first: when both apply, "case" is the more precise explanation.
    for other in others:
        if other.casefold() == folded:
            return other, "case"
    skeleton = name_skeleton(name)
    for other in others:
        if name_skeleton(other) == skeleton:
            return other, "confusable"
    return None
