"""A tiny local translation model: a random-weight MarianMT with a WordLevel tokenizer trained
here (no hub, no sentencepiece), for the jobs that translate."""

from __future__ import annotations

from pathlib import Path

from ._media import SPOKEN


def marian_env(folder: Path) -> dict[str, str]:
    """Settings for jobs that translate with a tiny Marian trained on ``SPOKEN`` at ``folder``."""
    return {
        "TRANSLATION_MODEL": str(tiny_marian(folder, SPOKEN.split("."))),
        "TRANSLATION_MAX_LENGTH": "24",
        "TM_MIN_CONFIDENCE": "0",  # random weights: every translation is unsure
    }


def tiny_marian(folder: Path, corpus: list[str]) -> Path:
    """A random-weight MarianMT, WordLevel tokenizer trained here: no hub, no sentencepiece."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import MarianConfig, MarianMTModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(
        corpus, trainers.WordLevelTrainer(special_tokens=["<pad>", "</s>", "<unk>"])
    )
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", tok.token_to_id("</s>"))]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    fast.save_pretrained(folder)
    config = MarianConfig(
        vocab_size=tok.get_vocab_size(),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        forced_eos_token_id=1,
    )
    torch.manual_seed(0)  # the same random weights every run, so outputs do not flake
    MarianMTModel(config).save_pretrained(folder)
    return folder
