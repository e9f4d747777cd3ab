"""The prompt store: every read and write of prompts in Redis (no screen here).

:class:`PromptStore` (in :mod:`.prompt_store`) decides what to write; the
commit (:mod:`.commit`) writes it as one atomic script (:mod:`.scripts`);
:mod:`.sources` reads prompt text from files, URLs and literal text;
:mod:`.fleet` reads and writes the agents' announcements.
"""

from dynamic_prompt.store.prompt_store import Preview, PromptStore, default_user, estimate_tokens

__all__ = ["Preview", "PromptStore", "default_user", "estimate_tokens"]
