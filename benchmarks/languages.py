"""Languages: is the language found, and is the text as good as Whisper base run directly?

    .venv/bin/python benchmarks/languages.py [--json]

Clips: two-voice dialogue in Spanish and German (espeak-ng) and Hindi (Festival's voice, built
from a real speaker), each with 30 s of real music (Debian pushover-data) in the middle and
music 14 dB under its second half; real English recordings: pyannote.audio's phone call and
Debian pocketsphinx-testdata's LibriVox reading. For each: the language our detector finds
(speech from across the clip) and the one Whisper base's own detector finds on the first 30 s;
then the character error rate (letters and digits, against the spoken text) of our ASR stage
(Whisper base, the detected language, the hallucination filter, Hindi primed for Devanagari)
against faster-whisper's own transcribe on the same model with its defaults. For the
non-English clips, the translation without a text model: our speech translation (Whisper's
translate task per line of our transcript) against faster-whisper's own translate task over the
whole clip: lines that loop (a phrase three times in a row, or gzip ratio over 2.4) and time.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from word_timing import RATE, read_wav, write_wav

from engines.asr import AsrSettings, WhisperxEngine, faster_whisper_model
from engines.hallucination import collapse_loops, compression_ratio
from engines.languages import detect_language
from engines.media import demux
from engines.translate import SpeechTranslator
from pipeline import Settings
from records import spoken_words
from testkit import base_settings, pyannote_sample, speak, speak_hindi

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
MUSIC = Path("/usr/share/pushover/themes/castle.ogg")
LINES = {
    "es": [
        "Hola, Marta. ¿Has visto las llaves del coche? Las dejé aquí esta mañana.",
        "No, no las he visto. Quizás están en la cocina, al lado de la ventana.",
        "Ya miré en la cocina. Tampoco están en el salón ni en el dormitorio.",
        "Entonces las tendrás en el bolsillo de la chaqueta que llevaste ayer.",
        "Bueno, date prisa, que llegamos tarde a la cena con mis padres.",
        "Sí, el vino está en la nevera. Y no te olvides del regalo para mi madre.",
    ],
    "de": [
        "Guten Morgen, Anna. Hast du gut geschlafen? Der Kaffee ist schon fertig.",
        "Danke, ich habe sehr schlecht geschlafen. Die Nachbarn haben bis drei Uhr gefeiert.",
        "Das tut mir leid. Möchtest du heute Abend mit uns ins Kino gehen?",
        "Gern, aber ich muss zuerst meine Schwester vom Bahnhof abholen.",
        "Kein Problem. Der Film beginnt erst um halb neun in der Stadtmitte.",
        "Dann treffen wir uns um acht vor dem Eingang. Bring deinen Schirm mit.",
    ],
    "hi": [
        "राहुल, तुम कल शाम कहाँ थे? मैंने तुम्हें कई बार फ़ोन किया।",
        "माफ़ करना, मैं अपने दोस्त की शादी में गया था। वहाँ बहुत शोर था।",
        "कोई बात नहीं। क्या तुम आज रात खाने पर आ सकते हो?",
        "हाँ, ज़रूर। मैं आठ बजे तक पहुँच जाऊँगा। क्या मैं कुछ लेकर आऊँ?",
        "बस मिठाई ले आना। माँ को गुलाब जामुन बहुत पसंद हैं।",
        "ठीक है। और तुम्हारी बहन भी आ रही है क्या?",
    ],
}
# A job's own segment length (ASR_SEGMENT_SECONDS), not WhisperX's 30 s.
SEGMENT_SECONDS: int = Settings.model_fields["asr_segment_seconds"].default
VOICES = {"es": ("es+m3", "es+f2"), "de": ("de+m3", "de+f2")}


@dataclass(frozen=True)
class Clip:
    name: str
    language: str
    wav: Path
    text: str
    real: bool


def _decoded(path: Path, work: Path) -> np.ndarray:
    return read_wav(demux(path, work / f"{path.stem}.dec.wav"))


def _music(seconds: float, offset: float) -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", str(offset), "-t", str(seconds), "-i", str(MUSIC),
         "-ar", str(RATE), "-ac", "1", "-f", "s16le", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    music = np.frombuffer(raw, np.int16).astype(np.float32) / 32768
    return np.pad(music, (0, max(0, int(seconds * RATE) - len(music))))


def dialogue(language: str, work: Path) -> Clip:
    """Six lines, two voices, 30 s of music after the third, music under the last three."""
    pieces: list[np.ndarray] = []
    for k, line in enumerate(LINES[language]):
        out = work / f"{language}{k}.m4a"
        if language == "hi":
            speak_hindi(line, out, video=False)
        else:
            speak(line, out, video=False, voice=VOICES[language][k % 2])
        speech = _decoded(out, work)
        if k >= 3:
            speech = speech + 0.2 * _music(len(speech) / RATE, 20 + 4 * k)[: len(speech)]
        pieces += [speech, np.zeros(int(0.5 * RATE), np.float32)]
        if k == 2:
            pieces.append(0.7 * _music(30, 40))
    wav = write_wav(work / f"{language}.wav", np.clip(np.concatenate(pieces), -1, 1))
    return Clip(f"{language} dialogue + music", language, wav, " ".join(LINES[language]), False)


def real_english(work: Path) -> list[Clip]:
    sample = pyannote_sample()
    said = [ln.split(maxsplit=5)[5] for ln in (sample / "sample.stm").read_text().splitlines()]
    phone = Clip("en phone call (real)", "en", sample / "sample.wav", " ".join(said), True)
    lines, audio = [], []
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        text, _, name = line.rpartition("(")
        lines.append(text.replace("<s>", "").replace("</s>", "").strip())
        audio.append(_decoded(LIBRIVOX / f"{name.rstrip(')').strip()}.wav", work))
    wav = write_wav(work / "librivox.wav", np.concatenate(audio))
    return [phone, Clip("en LibriVox reading (real)", "en", wav, " ".join(lines), True)]


def cer(reference: str, hypothesis: str) -> float:
    from rapidfuzz.distance import Levenshtein

    ref, hyp = "".join(spoken_words(reference)), "".join(spoken_words(hypothesis))
    return Levenshtein.distance(ref, hyp) / max(1, len(ref))


def settings(language: str | None) -> AsrSettings:
    return base_settings(language, segment_seconds=SEGMENT_SECONDS)


def measure(clip: Clip, work: Path) -> dict[str, object]:
    wav = demux(clip.wav, work / f"{clip.wav.stem}.16k.wav")
    found = detect_language(wav, settings(None))
    direct_model = faster_whisper_model(settings(None))
    audio = read_wav(wav)
    first, _, _ = direct_model.detect_language(audio=audio[: 30 * RATE])
    started = time.perf_counter()
    ours = WhisperxEngine(settings(found.language)).transcribe(wav)
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    segments, _ = direct_model.transcribe(audio, beam_size=5)
    direct = " ".join(s.text for s in segments)
    direct_s = time.perf_counter() - started
    return {
        "clip": clip.name,
        "language": clip.language,
        "ours": found.language,
        "whisper_first_30s": first,
        "cer_ours": round(cer(clip.text, ours.text), 3),
        "cer_direct": round(cer(clip.text, direct), 3),
        "seconds_ours": round(ours_s, 1),
        "seconds_direct": round(direct_s, 1),
    }


def _loops(text: str) -> bool:
    said = " ".join(text.split())
    return compression_ratio(said) > 2.4 or collapse_loops(said) != said


def translation(clip: Clip, work: Path) -> dict[str, object]:
    """Speech to English: ours line by line, Whisper's own over the clip."""
    wav = work / f"{clip.wav.stem}.16k.wav"
    asr = settings(clip.language)
    lines = [line for s in WhisperxEngine(asr).transcribe(wav).segments for line in s.sentences()]
    started = time.perf_counter()
    ours = list(SpeechTranslator(asr).translate(wav, [(s.start, s.end) for s in lines]))
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    found, _ = faster_whisper_model(asr).transcribe(
        read_wav(wav), language=clip.language, task="translate", beam_size=5
    )
    direct = [s.text for s in found]
    direct_s = time.perf_counter() - started
    return {
        "clip": clip.name,
        "lines ours": len(ours),
        "looping ours": sum(_loops(t.text) for t in ours),
        "lines direct": len(direct),
        "looping direct": sum(_loops(t) for t in direct),
        "s ours": round(ours_s, 1),
        "s direct": round(direct_s, 1),
        "first line ours": ours[0].text[:60] if ours else "",
    }


def _table(rows: list[dict[str, object]]) -> None:
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for r in rows:
        print("| " + " | ".join(str(v) for v in r.values()) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cpwx-languages-"))
    clips = [dialogue(lang, work) for lang in ("es", "de", "hi")] + real_english(work)
    rows = [measure(c, work) for c in clips]
    translated = [translation(c, work) for c in clips if c.language != "en"]
    if args.json:
        print(json.dumps({"languages": rows, "translation": translated}))
        return
    print(f"machine: {platform.machine()}, {platform.node()}; model: Whisper base int8, CPU")
    _table(rows)
    print()
    _table(translated)


if __name__ == "__main__":
    main()
