"""Real media for tests and benchmarks: espeak-ng speech (Festival's voice, built from a real
speaker, for Hindi) muxed by ffmpeg, in any container, and minutes of varied English for the
benchmarks' clips."""

from __future__ import annotations

import importlib.util
import random
import subprocess
from pathlib import Path

SPOKEN = (
    "The film begins in a small village near the river. Every morning the children walk "
    "to school along the dusty road. Their teacher tells them stories about the old king and "
    "his clever minister. One day a stranger arrives with a box full of letters. Nobody knows "
    "where he came from or why he has come."
)

# A conversation in Spanish and one in Hindi (Devanagari), for the multilingual model.
SPOKEN_ES = (
    "Hola, Marta. ¿Has visto las llaves del coche? Las dejé aquí esta mañana. No, no las he "
    "visto. Quizás están en la cocina, al lado de la ventana. Ya miré en la cocina. Entonces "
    "las tendrás en el bolsillo de la chaqueta que llevaste ayer."
)
SPOKEN_HI = (
    "राहुल, तुम कल शाम कहाँ थे? मैंने तुम्हें कई बार फ़ोन किया। माफ़ करना, मैं अपने दोस्त की "
    "शादी में गया था। वहाँ बहुत शोर था। कोई बात नहीं। क्या तुम आज रात खाने पर आ सकते हो?"
)


def pyannote_sample() -> Path:
    """pyannote.audio's own real recording (``sample.wav``: 30 s, two people on a phone line,
    with its ``sample.rttm``), found without importing torch."""
    spec = importlib.util.find_spec("pyannote.audio")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "sample"


def bazarr_pcm(media: Path) -> bytes:
    """The audio as Bazarr's Whisper provider sends it to /asr (its ``encode_audio_stream``:
    raw 16 kHz mono s16le PCM)."""
    command = (
        *("ffmpeg", "-nostdin", "-threads", "0", "-i", str(media), "-map", "0:a:0"),
        *("-f", "s16le", "-ac", "1", "-acodec", "pcm_s16le", "-af", "aresample=async=1"),
        *("-ar", "16000", "-", "-vn", "-dn", "-sn"),
    )
    return subprocess.run(command, capture_output=True, check=True).stdout


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def faststart_copy(src: Path, dst: Path) -> Path:
    """A faststart MP4 keeps its index up front: cut short, it still probes but won't decode."""
    ffmpeg("-i", str(src), "-c", "copy", "-movflags", "+faststart", str(dst))
    return dst


def speak(text: str, out: Path, *, video: bool = True, speed: int = 150, voice: str = "en") -> Path:
    """espeak-ng speech in ``voice`` (a language), muxed by ffmpeg into ``out`` (MP4 with a
    video track, or audio only)."""
    wav = out.with_suffix(".speech.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text], check=True)
    return _mux(wav, out, video)


def speak_hindi(text: str, out: Path, *, video: bool = False) -> Path:
    """Hindi in Festival's NSK voice (a diphone voice from a real speaker: Whisper hears it as
    Hindi, where espeak-ng's Hindi is heard as another language), muxed into ``out``."""
    wav = out.with_suffix(".speech.wav")
    script = out.with_suffix(".scm")
    script.write_text(
        "(voice_hindi_NSK_diphone)\n(Parameter.set 'Int_Method Intonation_Default)\n"
        f'(utt.save.wave (utt.synth (Utterance Text "{text.replace(chr(34), "")}")) '
        f'"{wav}" \'riff)\n',
        encoding="utf-8",
    )
    subprocess.run(["festival", "--batch", str(script)], check=True, capture_output=True)
    script.unlink()
    return _mux(wav, out, video)


def _mux(wav: Path, out: Path, video: bool) -> Path:
    picture = ("-f", "lavfi", "-i", "color=c=navy:s=160x90:r=5") if video else ()
    encode = ("-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
    ffmpeg(
        *picture, "-i", str(wav), *(encode if video else ()), "-c:a", "aac", "-b:a", "48k", str(out)
    )
    wav.unlink()
    return out


_SUBJECTS = [
    "The old teacher",
    "A young doctor",
    "Raj",
    "Priya",
    "The station master",
    "My grandmother",
    "The farmer",
    "A tired driver",
    "The little girl",
    "Our neighbour",
]
_VERBS = [
    "walks to",
    "writes a letter about",
    "remembers",
    "talks quietly about",
    "waits near",
    "dreams about",
    "sings a song about",
    "paints a picture of",
    "runs past",
    "visits",
]
_OBJECTS = [
    "the river",
    "the busy market",
    "the railway station",
    "the small temple",
    "the school garden",
    "the city hospital",
    "the mountain road",
    "the village well",
    "the cinema hall",
    "the morning train",
]
_TAILS = [
    "every evening",
    "before the rain",
    "after the festival",
    "in the cold winter",
    "with a heavy heart",
    "while the sun sets",
    "on a quiet Sunday",
    "without a word",
]


def script(minutes: float, seed: int = 7) -> str:
    rng = random.Random(seed)
    words_needed = int(minutes * 150)
    sentences: list[str] = []
    while sum(len(s.split()) for s in sentences) < words_needed:
        sentences.append(
            f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} "
            f"{rng.choice(_TAILS)}."
        )
    return " ".join(sentences)


def make_clip(path: Path, minutes: float) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        speak(script(minutes), path)
    return path
