"""Argument completion (``completion/complete``) for prompts and resource templates.

The SDK takes a single completion handler per server, so the modules that declare prompts and
resource templates register a completer for each of their arguments here instead, and
:meth:`Completions.install` serves them all. A completer gets the partial value (and the
arguments already chosen) and returns candidate values; they are filtered by prefix (case
insensitive) and capped at the spec's 100. A completer that fails (daemon down, not logged in)
yields no candidates instead of an error: completion is a convenience, the real call reports the
problem properly.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from mcp.server import MCPServer
from mcp.types import Completion, CompletionArgument, CompletionContext, PromptReference, ResourceTemplateReference

log = logging.getLogger(__name__)

MAX_VALUES = 100  # the spec's cap per response

#: (partial value, arguments already chosen) → candidate values.
Completer = Callable[[str, Mapping[str, str]], Awaitable[Sequence[str]]]


def matching(candidates: Sequence[str], partial: str) -> list[str]:
    """Candidates that start with ``partial`` (ignoring case), in their given order, without repeats."""
    prefix = partial.strip().lower()
    seen: list[str] = []
    for value in candidates:
        if value.lower().startswith(prefix) and value not in seen:
            seen.append(value)
    return seen


@dataclass
class Completions:
    """Completers by prompt name or resource template, then argument name."""

    _prompts: dict[tuple[str, str], Completer] = field(default_factory=dict)
    _templates: dict[tuple[str, str], Completer] = field(default_factory=dict)

    def for_prompt(self, prompt: str, argument: str, completer: Completer) -> None:
        self._prompts[(prompt, argument)] = completer

    def for_template(self, uri_template: str, argument: str, completer: Completer) -> None:
        self._templates[(uri_template, argument)] = completer

    async def complete(
        self,
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion:
        if isinstance(ref, PromptReference):
            completer = self._prompts.get((ref.name, argument.name))
        else:
            completer = self._templates.get((ref.uri, argument.name))
        if completer is None:
            return Completion(values=[], total=0, has_more=False)
        chosen = dict(context.arguments or {}) if context is not None else {}
        try:
            candidates = matching(await completer(argument.value, chosen), argument.value)
        except Exception as exc:  # a convenience must never fail the client's request
            log.info("completion of %s failed: %s", argument.name, exc)
            return Completion(values=[], total=0, has_more=False)
        return Completion(values=candidates[:MAX_VALUES], total=len(candidates), has_more=len(candidates) > MAX_VALUES)

    def install(self, server: MCPServer) -> None:
        """Serve ``completion/complete`` from the registered completers."""
        server.completion()(self.complete)  # type: ignore[no-untyped-call]  # the SDK leaves it untyped


def fixed(values: Sequence[str]) -> Completer:
    """A completer offering a fixed list of suggestions."""

    async def complete(partial: str, chosen: Mapping[str, str]) -> Sequence[str]:
        return values

    return complete
