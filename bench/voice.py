"""Voice-input benchmark: officer-style requests spoken by espeak-ng, transcribed by SpeechRecognizer.

Reports English word accuracy, Chinese character accuracy, latency of a transcribe call (p50, max;
mostly decoding) and model load time for each compute type, as Markdown for bench/RESULTS.md
"## Voice". Synthetic speech is a stand-in for officers' voices: real speech will score differently.

    .venv/bin/python -m bench.voice [--compute-types float32 int8] [--vad on|off] [--show]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from assistant.config import get_settings
from assistant.voice import (
    USE_VAD,
    AudioInputError,
    SpeechRecognizer,
    assemble_whisper_base,
    transcript_accuracy,
)

# Numbers are left out on purpose: the accuracy measure compares words, and "three" vs "3" would
# count as an error that the request parser does not care about.
REQUESTS: dict[str, tuple[str, ...]] = {
    "en": (
        "Find a man in a red jacket at the east gate yesterday afternoon",
        "Show me a woman with a black backpack near the north entrance this morning",
        "Look for a person wearing a white hat and blue jeans",
        "Any child in a yellow coat at the parking lot this evening",
        "Search for a bald man riding a bicycle on the main road last night",
        "Only keep the ones wearing glasses",
    ),
    "zh": (
        "昨天下午在东门找一个穿红色夹克的男人",
        "查一下今天上午北门背黑色背包的女人",
        "找戴白色帽子穿蓝色牛仔裤的人",
        "傍晚在停车场穿黄色外套的小孩",
        "昨晚在主路上骑自行车的光头男子",
        "只看戴眼镜的",
    ),
}
VOICES = {"en": "en", "zh": "cmn-latn-pinyin"}  # cmn-latn-pinyin reads Chinese characters correctly


def speak(text: str, lang: str, out: Path) -> Path:
    """Synthesise ``text`` with espeak-ng and convert it to a 16 kHz mono WAV at ``out``."""
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", VOICES[lang], "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", str(out)], check=True)
    raw.unlink()
    return out


def run(compute_type: str, clips: list[tuple[str, str, Path]], vad: bool, show: bool) -> str:
    """One Markdown table row for ``compute_type`` over all clips."""
    recognizer = SpeechRecognizer(get_settings().model_copy(update={"asr_compute_type": compute_type}), vad=vad)
    recognizer.load()
    scores: dict[str, list[float]] = {"en": [], "zh": []}
    latencies = []
    refused = 0
    for lang, reference, path in clips:
        start = time.perf_counter()
        try:
            text = recognizer.transcribe(path, lang).text  # type: ignore[arg-type]
        except AudioInputError as err:  # "no speech recognised" counts as all wrong
            text, refused = f"<{err.problem}>", refused + 1
        latencies.append(time.perf_counter() - start)
        score = transcript_accuracy(reference, text, lang)
        scores[lang].append(score)
        if show:
            print(f"  [{compute_type}] {score:.2f}  {reference}  →  {text}")
    return (
        f"| {compute_type} | {'on' if vad else 'off'} | {statistics.mean(scores['en']):.2f} "
        f"| {statistics.mean(scores['zh']):.2f} | {refused} | {statistics.median(latencies):.2f} "
        f"| {max(latencies):.2f} | {recognizer.load_s:.2f} |"
    )


def main() -> None:
    """Synthesise the requests, transcribe them with each compute type, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compute-types", nargs="+", default=["float32", "int8"])
    parser.add_argument(
        "--vad", choices=["on", "off"], default="on" if USE_VAD else "off", help="faster-whisper's VAD filter"
    )
    parser.add_argument("--show", action="store_true", help="print every reference and transcript")
    args = parser.parse_args()
    settings = get_settings()
    if settings.asr_model_dir is None:
        assemble_whisper_base(settings.data_dir / "models")  # keep assembly out of the load time
    with tempfile.TemporaryDirectory() as tmp:
        clips = [
            (lang, text, speak(text, lang, Path(tmp) / f"{lang}{i}.wav"))
            for lang, texts in REQUESTS.items()
            for i, text in enumerate(texts)
        ]
        print(
            "| compute type | VAD | EN word accuracy | ZH char accuracy | no-speech refusals "
            "| latency p50 s | latency max s | load s |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for compute_type in args.compute_types:
            print(run(compute_type, clips, args.vad == "on", args.show), flush=True)


if __name__ == "__main__":
    main()
