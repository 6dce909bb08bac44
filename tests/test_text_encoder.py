import os
import subprocess
import sys

import pytest
import torch

from videopoet.tokenizers.text import MAX_TOKENS, TextEncoder


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder()


def test_embeddings_and_mask_have_the_fixed_length(encoder):
    out = encoder(["a large red circle moving left", "two small blue squares"])
    assert out.embeddings.shape == (2, MAX_TOKENS, 384) and out.embeddings.dtype == torch.float32
    assert out.mask.shape == (2, MAX_TOKENS) and out.mask.dtype == torch.bool
    lengths = out.mask.sum(dim=1).tolist()
    assert all(3 < length < 16 for length in lengths)
    for row, length in enumerate(lengths):
        assert out.mask[row, :length].all() and not out.mask[row, length:].any()
        assert out.embeddings[row, length:].abs().sum() == 0
    assert not torch.allclose(out.embeddings[0, 1], out.embeddings[1, 1])  # different prompts, different tokens


def test_identical_prompts_give_identical_embeddings_and_are_cached(encoder):
    first = encoder(["a cyan triangle bouncing", "a cyan triangle bouncing"])
    assert torch.equal(first.embeddings[0], first.embeddings[1])
    assert "a cyan triangle bouncing" in encoder._cache
    again = encoder("a cyan triangle bouncing")
    assert torch.equal(again.embeddings[0], first.embeddings[0])
    fresh = TextEncoder()  # a new encoder computes the same numbers
    assert torch.allclose(fresh("a cyan triangle bouncing").embeddings, again.embeddings, atol=1e-5)


def test_the_empty_prompt_is_the_unconditional_embedding(encoder):
    out = encoder(["", "   ", "a white square"])
    unconditional = encoder.unconditional(2)
    assert torch.equal(out.embeddings[:2], unconditional.embeddings) and torch.equal(out.mask[:2], unconditional.mask)
    assert not out.mask[:2].any() and out.mask[2].any()


def test_long_prompts_are_truncated_with_a_warning(encoder):
    prompt = " ".join(["a small red circle moving left"] * 30)
    with pytest.warns(UserWarning, match="truncated to 64"):
        out = encoder([prompt])
    assert out.mask.all()


def test_bad_inputs_are_refused(encoder, tmp_path):
    with pytest.raises(TypeError, match="prompts must be strings"):
        encoder([3])
    with pytest.raises(FileNotFoundError, match="no such folder"):
        TextEncoder(tmp_path / "missing")


def test_it_loads_with_the_network_switched_off():
    script = "from videopoet.tokenizers.text import TextEncoder; print(TextEncoder()('a red circle').mask.sum().item())"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": "/nonexistent-hf-home"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip().splitlines()[-1]) > 2


def test_any_encoder_on_disk_is_chosen_by_path(tmp_path):
    """An encoder-decoder checkpoint (a tiny random T5 here) contributes its encoder."""
    import shutil

    from transformers import T5Config, T5Model

    from videopoet.tokenizers.text import default_encoder_path

    folder = tmp_path / "tiny-t5"
    config = T5Config(vocab_size=30522, d_model=32, d_kv=16, d_ff=64, num_layers=1, num_heads=2, decoder_start_token_id=0)
    T5Model(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(default_encoder_path() / name, folder / name)
    encoder = TextEncoder(folder, max_tokens=16)
    out = encoder(["a small green triangle", ""])
    assert encoder.dim == 32 and encoder.name == str(folder)
    assert out.embeddings.shape == (2, 16, 32) and out.mask[0].sum() > 2 and not out.mask[1].any()


def test_our_bert_matches_transformers_and_skips_importing_it(encoder):
    """The default encoder runs on videopoet's own BERT; its embeddings equal transformers'."""
    from transformers import AutoModel, AutoTokenizer

    from videopoet.tokenizers.bert import BertEncoder

    assert isinstance(encoder.model, BertEncoder)
    prompts = ["a large red circle moving left and a small blue square bouncing, the camera pans right", "hi", "Ünïcode — dash!"]
    ours = encoder(prompts)
    tokenizer, model = AutoTokenizer.from_pretrained(encoder.path), AutoModel.from_pretrained(encoder.path).eval()
    batch = tokenizer(prompts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    with torch.no_grad():
        reference = model(**batch).last_hidden_state
    for row, length in enumerate(batch["attention_mask"].sum(1).tolist()):
        assert int(ours.mask[row].sum()) == length
        torch.testing.assert_close(ours.embeddings[row, :length], reference[row, :length], atol=1e-4, rtol=1e-4)
    script = "import sys; from videopoet.tokenizers.text import TextEncoder; TextEncoder()('a box'); print('transformers' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().splitlines()[-1] == "False", result.stderr


def test_truncation_keeps_the_end_marker(encoder):
    from videopoet.tokenizers.bert import truncate

    assert truncate([101, 5, 6, 7, 102], 4) == [101, 5, 6, 102] and truncate([101, 5, 102], 4) == [101, 5, 102]


def test_a_vocabulary_subset_gives_the_full_encoders_embeddings_on_its_captions(encoder, tmp_path):
    from videopoet.tokenizers.bert import write_vocabulary_subset
    from videopoet.tokenizers.text import DEFAULT_ENCODER, default_encoder_path

    captions = ["a big red ball bouncing", "a tiny blue box moves to the left while the camera zooms out"]
    out = write_vocabulary_subset(default_encoder_path(), DEFAULT_ENCODER, captions, tmp_path / "cut", dtype=torch.float32)
    cut = TextEncoder(out)
    assert cut.name == DEFAULT_ENCODER  # what shards and models made with it record
    assert 10 < cut.model.config.vocab_size < 40 and (out / "model.safetensors").stat().st_size < 0.6 * (default_encoder_path() / "model.safetensors").stat().st_size
    full, subset = encoder(captions), cut(captions)
    assert torch.equal(full.mask, subset.mask)
    assert torch.equal(subset.embeddings, full.embeddings)  # float32: the same computation
    # a word the captions never used is not in the copy: refused, not read as [UNK]
    with pytest.raises(ValueError, match="'a big green ball': a word the text encoder .* does not hold"):
        cut("a big green ball")

    half = TextEncoder(write_vocabulary_subset(default_encoder_path(), DEFAULT_ENCODER, captions, tmp_path / "cut", dtype=torch.float16))
    torch.testing.assert_close(half(captions).embeddings, full.embeddings, rtol=0, atol=1e-2)  # replaced in place, float16 rounding


def test_a_vocabulary_subset_refuses_bad_input(tmp_path):
    from videopoet.tokenizers.bert import write_vocabulary_subset
    from videopoet.tokenizers.text import DEFAULT_ENCODER, default_encoder_path

    with pytest.raises(ValueError, match="no captions"):
        write_vocabulary_subset(default_encoder_path(), DEFAULT_ENCODER, [], tmp_path / "cut")
    with pytest.raises(ValueError, match="not a BERT folder"):
        write_vocabulary_subset(tmp_path, DEFAULT_ENCODER, ["a red ball"], tmp_path / "cut")
    assert not (tmp_path / "cut").exists()


def test_eval_tasks_takes_a_text_encoder_only_if_it_is_the_one_the_lm_records(tmp_path, capsys):
    from videopoet.cli import main
    from videopoet.tokenizers.bert import write_vocabulary_subset
    from videopoet.tokenizers.text import default_encoder_path

    other = write_vocabulary_subset(default_encoder_path(), "another-encoder", ["a red ball"], tmp_path / "other")
    assert main(["eval", "tasks", "--clips", "1", "--tasks", "text_to_video", "--text-encoder", str(other)]) == 2
    assert "it is 'another-encoder', the LM was trained with 'all-MiniLM-L6-v2'" in capsys.readouterr().err
